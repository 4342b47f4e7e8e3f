// The bot builder's speech providers (STT, LLM, TTS: vendor, model, voice, options, a fallback; only those the deployment runs), call limits and voicemail behaviour.
import { Card, Group, JsonInput, NumberInput, SegmentedControl, Select, SimpleGrid, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { useState } from 'react';
import { api } from '../../api/client';
import { useLoad } from '../../lib/load';
import { LLM_PROVIDERS, STT_PROVIDERS, TTS_PROVIDERS, providerChoices, providerNeeds, type BotSpec, type ProviderOffer, type ProviderOffers, type ProviderSettings } from '../../lib/spec';
import type { SectionProps } from './edit';

type Kind = 'stt' | 'llm' | 'tts';
const KINDS: { kind: Kind; label: string; providers: string[] }[] = [
  { kind: 'stt', label: 'Speech to text', providers: STT_PROVIDERS },
  { kind: 'llm', label: 'Language model', providers: LLM_PROVIDERS },
  { kind: 'tts', label: 'Text to speech', providers: TTS_PROVIDERS },
];

function Provider({ kind, label, providers, offers, spec, change, errors, readOnly }: SectionProps & { kind: Kind; label: string; providers: string[]; offers: ProviderOffer[] | null }) {
  const settings: ProviderSettings = spec[kind];
  const field = `spec.${kind}`;
  const [options, setOptions] = useState(JSON.stringify(settings.options ?? {}, null, 2));
  const [optionsError, setOptionsError] = useState<string | null>(null);
  const set = (patch: Partial<ProviderSettings>) => change((s: BotSpec) => ({ ...s, [kind]: { ...s[kind], ...patch } }) as BotSpec);
  return (
    <Card withBorder>
      <Stack gap="xs">
        <Text fw={600}>{label}</Text>
        <Group grow align="flex-start">
          <Select
            label={`${label} provider`}
            data={providerChoices(providers, offers, settings.provider)}
            description={providerNeeds(offers, settings.provider) ?? undefined}
            value={settings.provider}
            readOnly={readOnly}
            allowDeselect={false}
            onChange={(provider) => provider && set({ provider })}
            error={errors[`${field}.provider`] ?? errors[field]}
          />
          <TextInput label="Model" placeholder="the provider's default" value={settings.model ?? ''} readOnly={readOnly} onChange={(e) => set({ model: e.currentTarget.value || null })} />
          {kind === 'tts' && (
            <TextInput label="Voice" placeholder="the provider's default" value={settings.voice ?? ''} readOnly={readOnly} onChange={(e) => set({ voice: e.currentTarget.value || null })} />
          )}
        </Group>
        <Group grow align="flex-start">
          <JsonInput
            label="Options"
            description='Vendor options, e.g. {"base_url": "http://127.0.0.1:8080/v1"}'
            value={options}
            readOnly={readOnly}
            autosize
            minRows={2}
            onChange={(text) => {
              setOptions(text);
              try {
                const value = JSON.parse(text || '{}');
                if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
                setOptionsError(null);
                set({ options: value });
              } catch {
                setOptionsError('Options must be a JSON object.');
              }
            }}
            error={optionsError ?? errors[`${field}.options`]}
          />
          <Select
            label="Fallback provider"
            description={providerNeeds(offers, settings.fallback?.provider) ?? 'Takes over when this one fails'}
            data={providerChoices(providers, offers, settings.fallback?.provider)}
            clearable
            readOnly={readOnly}
            value={settings.fallback?.provider ?? null}
            onChange={(provider) => set({ fallback: provider ? { provider, options: {} } : null })}
            error={errors[`${field}.fallback`]}
          />
        </Group>
      </Stack>
    </Card>
  );
}

export function VoiceSection(props: SectionProps) {
  // Which providers this deployment runs; until it answers, every one is offered.
  const { data: offers } = useLoad(() => api.send<ProviderOffers>('GET', '/api/v1/providers'), []);
  return (
    <Stack gap="sm">
      {KINDS.map((k) => (
        <Provider key={k.kind} {...props} {...k} offers={offers ? offers[k.kind] : null} />
      ))}
    </Stack>
  );
}

export function CallSection({ spec, change, errors, readOnly }: SectionProps) {
  const voicemail = spec.voicemail;
  return (
    <Stack gap="sm">
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <NumberInput
          label="Longest call (seconds)"
          min={10}
          max={14400}
          value={spec.limits.max_duration_secs}
          readOnly={readOnly}
          onChange={(v) => change((s) => ({ ...s, limits: { ...s.limits, max_duration_secs: Number(v) || 0 } }))}
          error={errors['spec.limits.max_duration_secs']}
        />
        <NumberInput
          label="Silence before hanging up (seconds)"
          min={1}
          max={600}
          value={spec.limits.silence_timeout_secs}
          readOnly={readOnly}
          onChange={(v) => change((s) => ({ ...s, limits: { ...s.limits, silence_timeout_secs: Number(v) || 0 } }))}
          error={errors['spec.limits.silence_timeout_secs']}
        />
      </SimpleGrid>
      <Text fw={600} size="sm">
        When a machine answers
      </Text>
      <SegmentedControl
        data={[
          { value: 'hangup', label: 'Hang up' },
          { value: 'leave_message', label: 'Leave a message after the beep' },
        ]}
        value={voicemail.action}
        readOnly={readOnly}
        onChange={(action) =>
          change((s) => ({
            ...s,
            voicemail: action === 'leave_message' ? { action: 'leave_message', message: '' } : { action: 'hangup' },
          }))
        }
      />
      {voicemail.action === 'leave_message' && (
        <Textarea
          label="Voicemail message"
          value={voicemail.message}
          readOnly={readOnly}
          onChange={(e) => {
            const message = e.currentTarget.value;
            change((s) => ({ ...s, voicemail: { action: 'leave_message', message } }));
          }}
          error={errors['spec.voicemail.message'] ?? errors['spec.voicemail']}
          autosize
        />
      )}
    </Stack>
  );
}
