// The bot builder's tools: webhooks (URL, JSON-schema arguments, timeout, a filler line), knowledge search (which bases, when it runs, how many passages, the latency budget), end call, press keys, transfer and set disposition.
import { ActionIcon, Button, Card, Group, JsonInput, Menu, MultiSelect, NumberInput, Select, Stack, TagsInput, Text, TextInput } from '@mantine/core';
import { api, type components } from '../../api/client';
import { useLoad } from '../../lib/load';
import { useState } from 'react';
import type { ToolSpec } from '../../lib/spec';
import { replaced, without, type SectionProps } from './edit';

const NEW_TOOLS: Record<ToolSpec['type'], () => ToolSpec> = {
  webhook: () => ({
    type: 'webhook',
    name: '',
    description: '',
    url: 'https://',
    parameters: { type: 'object', properties: {}, required: [] },
    timeout_ms: 5000,
  }),
  end_call: () => ({ type: 'end_call' }),
  send_digits: () => ({ type: 'send_digits' }),
  transfer: () => ({ type: 'transfer', destination: '' }),
  set_disposition: () => ({ type: 'set_disposition', allowed: [] }),
  search_knowledge: () => ({ type: 'search_knowledge', knowledge_base_ids: [], top_k: 3, timeout_ms: 1500 }),
};

const LABELS: Record<ToolSpec['type'], string> = {
  webhook: 'Webhook',
  end_call: 'End the call',
  send_digits: 'Press keys (an automated menu; vox sip calls)',
  transfer: 'Transfer to a person',
  set_disposition: 'Set the disposition',
  search_knowledge: 'Search knowledge bases',
};

type Base = components['schemas']['BaseView'];

function Parameters({ value, onChange, error, readOnly }: { value: unknown; onChange: (v: unknown) => void; error?: string; readOnly: boolean }) {
  const [text, setText] = useState(JSON.stringify(value, null, 2));
  const [bad, setBad] = useState<string | null>(null);
  return (
    <JsonInput
      label="Arguments (JSON Schema)"
      description="The arguments the model must give; checked before the webhook is called"
      value={text}
      readOnly={readOnly}
      autosize
      minRows={4}
      formatOnBlur
      onChange={(t) => {
        setText(t);
        try {
          onChange(JSON.parse(t));
          setBad(null);
        } catch {
          setBad('Not valid JSON.');
        }
      }}
      error={bad ?? error}
    />
  );
}

export function ToolsSection({ spec, change, errors, readOnly }: SectionProps) {
  const { data: bases } = useLoad(() => api.send<Base[]>('GET', '/api/v1/knowledge-bases'), []);
  const set = (index: number, tool: ToolSpec) => change((s) => ({ ...s, tools: replaced(s.tools, index, tool) }));
  return (
    <Stack gap="sm">
      {spec.tools.length === 0 && <Text c="dimmed">No tools: the bot only talks.</Text>}
      {spec.tools.map((tool, i) => {
        const field = `spec.tools[${i}]`;
        return (
          <Card withBorder key={i} data-testid={`tool-${i}`}>
            <Stack gap="xs">
              <Group justify="space-between">
                <Text fw={600}>{LABELS[tool.type]}</Text>
                {!readOnly && (
                  <ActionIcon variant="subtle" color="red" aria-label={`Remove tool ${i + 1}`} onClick={() => change((s) => ({ ...s, tools: without(s.tools, i) }))}>
                    ✕
                  </ActionIcon>
                )}
              </Group>
              {errors[field] && (
                <Text c="red" size="sm">
                  {errors[field]}
                </Text>
              )}
              {tool.type === 'webhook' && (
                <>
                  <Group grow align="flex-start">
                    <TextInput label="Tool name" value={tool.name} readOnly={readOnly} onChange={(e) => set(i, { ...tool, name: e.currentTarget.value })} error={errors[`${field}.name`]} />
                    <TextInput label="Webhook URL" value={tool.url} readOnly={readOnly} onChange={(e) => set(i, { ...tool, url: e.currentTarget.value })} error={errors[`${field}.url`]} />
                  </Group>
                  <TextInput
                    label="Description"
                    description="When the model should call it"
                    value={tool.description}
                    readOnly={readOnly}
                    onChange={(e) => set(i, { ...tool, description: e.currentTarget.value })}
                  />
                  <Parameters
                    value={tool.parameters}
                    readOnly={readOnly}
                    onChange={(parameters) => set(i, { ...tool, parameters: parameters as typeof tool.parameters })}
                    error={errors[`${field}.parameters`]}
                  />
                  <Group grow align="flex-start">
                    <NumberInput
                      label="Timeout (ms)"
                      min={100}
                      max={30000}
                      value={tool.timeout_ms}
                      readOnly={readOnly}
                      onChange={(v) => set(i, { ...tool, timeout_ms: Number(v) || 0 })}
                      error={errors[`${field}.timeout_ms`]}
                    />
                    <TextInput
                      label="Filler"
                      description="Said while the webhook runs"
                      value={tool.filler ?? ''}
                      readOnly={readOnly}
                      onChange={(e) => set(i, { ...tool, filler: e.currentTarget.value || null })}
                    />
                  </Group>
                </>
              )}
              {tool.type === 'search_knowledge' && (
                <>
                  <MultiSelect
                    label="Knowledge bases"
                    description="What the bot may search during the call"
                    data={(bases ?? []).map((b) => ({ value: String(b.id), label: b.name }))}
                    value={tool.knowledge_base_ids.map(String)}
                    readOnly={readOnly}
                    onChange={(ids) => set(i, { ...tool, knowledge_base_ids: ids.map(Number) })}
                    error={errors[`${field}.knowledge_base_ids`] ?? Object.entries(errors).find(([k]) => k.startsWith(`${field}.knowledge_base_ids[`))?.[1]}
                  />
                  <Select
                    label="When it searches"
                    data={[
                      { value: 'tool', label: 'When the model asks (a tool it may call)' },
                      { value: 'every_turn', label: "Before every reply, with the caller's words" },
                    ]}
                    value={tool.retrieval ?? 'tool'}
                    readOnly={readOnly}
                    allowDeselect={false}
                    onChange={(v) => set(i, { ...tool, retrieval: v === 'every_turn' ? 'every_turn' : 'tool' })}
                    error={errors[`${field}.retrieval`]}
                  />
                  <Group grow align="flex-start">
                    <NumberInput
                      label="Passages per search"
                      min={1}
                      max={10}
                      value={tool.top_k}
                      readOnly={readOnly}
                      onChange={(v) => set(i, { ...tool, top_k: Number(v) || 0 })}
                      error={errors[`${field}.top_k`]}
                    />
                    <NumberInput
                      label="Latency budget (ms)"
                      min={100}
                      max={10000}
                      value={tool.timeout_ms}
                      readOnly={readOnly}
                      onChange={(v) => set(i, { ...tool, timeout_ms: Number(v) || 0 })}
                      error={errors[`${field}.timeout_ms`]}
                    />
                    <TextInput
                      label="Filler"
                      description="Said while it searches (when the model asks)"
                      value={tool.filler ?? ''}
                      readOnly={readOnly}
                      onChange={(e) => set(i, { ...tool, filler: e.currentTarget.value || null })}
                    />
                  </Group>
                </>
              )}
              {tool.type === 'transfer' && (
                <TextInput
                  label="Transfer to"
                  description="E.164 number or SIP URI"
                  value={tool.destination}
                  readOnly={readOnly}
                  onChange={(e) => set(i, { ...tool, destination: e.currentTarget.value })}
                  error={errors[`${field}.destination`]}
                />
              )}
              {tool.type === 'set_disposition' && (
                <TagsInput label="Allowed dispositions" value={tool.allowed} readOnly={readOnly} onChange={(allowed) => set(i, { ...tool, allowed })} error={errors[`${field}.allowed`]} />
              )}
            </Stack>
          </Card>
        );
      })}
      {!readOnly && (
        <Menu>
          <Menu.Target>
            <Button variant="light" w="fit-content">
              Add a tool
            </Button>
          </Menu.Target>
          <Menu.Dropdown>
            {(Object.keys(NEW_TOOLS) as ToolSpec['type'][]).map((type) => (
              <Menu.Item key={type} onClick={() => change((s) => ({ ...s, tools: [...s.tools, NEW_TOOLS[type]()] }))}>
                {LABELS[type]}
              </Menu.Item>
            ))}
          </Menu.Dropdown>
        </Menu>
      )}
    </Stack>
  );
}
