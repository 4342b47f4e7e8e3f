// A campaign's settings: bot, schedule, calling windows, attempts, pacing, retries and lockouts, carrier account and caller ID; checked before sending, then the Backend's refusal at its field.
import { ActionIcon, Alert, Button, Card, Chip, Group, NumberInput, Select, SimpleGrid, Stack, Text, TextInput } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { api, ApiError, type BotView, type CampaignView, type components } from '../../api/client';
import { messageOf, useLoad } from '../../lib/load';

type Settings = components['schemas']['CampaignSettings'];
type Window = components['schemas']['CallingWindow'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const RETRIES = [
  ['dial.busy', 'Busy'],
  ['dial.no_answer', 'No answer'],
  ['dial.machine', 'Machine'],
  ['dial.failed', 'Failed'],
] as const;
const LOCKOUTS = [
  ['dial.abandoned', 'After an abandoned call (default 72 h)'],
  ['dial.machine', 'After a machine (default 24 h)'],
] as const;

type Dialler = {
  pacing?: string | { mode: string; level?: number };
  ratio_level?: number;
  retry?: Record<string, { after_minutes?: number }>;
  max_attempts_per_day?: number;
  lockout_hours?: Record<string, number>;
  carrier_account?: number;
};

/// `2026-11-24T09:00:00Z` as the value of a `datetime-local` input (local time), and back.
const toLocal = (iso?: string | null) => (iso ? new Date(new Date(iso).getTime() - new Date(iso).getTimezoneOffset() * 60000).toISOString().slice(0, 16) : '');
const fromLocal = (text: string) => (text ? new Date(text).toISOString() : null);

export function SettingsForm({ campaign, bots, readOnly, onSaved }: { campaign: CampaignView; bots: BotView[]; readOnly: boolean; onSaved: (c: CampaignView) => void }) {
  const { id: _id, state: _state, created_at: _created, ...initial } = campaign as CampaignView & Settings;
  const [s, setS] = useState<Settings>(initial as Settings);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const dialler = (s.dialler ?? {}) as Dialler;
  const { data: accounts } = useLoad(() => api.send<components['schemas']['AccountView'][]>('GET', '/api/v1/carrier-accounts'), []);
  const set = (patch: Partial<Settings>) => setS((old) => ({ ...old, ...patch }));
  const setDialler = (patch: Partial<Dialler>) => set({ dialler: { ...dialler, ...patch } as Settings['dialler'] });
  const mode = typeof dialler.pacing === 'object' ? dialler.pacing.mode : (dialler.pacing ?? 'predictive');
  const windows = s.calling_windows ?? [];
  const setWindow = (i: number, w: Window) => set({ calling_windows: windows.map((x, j) => (j === i ? w : x)) });

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!s.name.trim()) found.name = 'Give the campaign a name.';
    if (!(s.abandon_target > 0 && s.abandon_target <= 0.1)) found.abandon_target = 'Between 0.1 % and 10 %.';
    if (s.starts_at && s.ends_at && s.ends_at <= s.starts_at) found.ends_at = 'Ends before it starts.';
    windows.forEach((w, i) => {
      if (w.days.length === 0) found[`calling_windows[${i}]`] = 'Pick at least one day.';
      else if (w.end <= w.start) found[`calling_windows[${i}]`] = 'The window ends before it starts.';
    });
    if (s.caller_id && !/^\+[1-9]\d{6,14}$/.test(s.caller_id)) found.caller_id = 'An E.164 number, e.g. +14155550100.';
    setErrors(found);
    setSaved(false);
    if (Object.keys(found).length > 0) return;
    setBusy(true);
    try {
      const view = await api.send<CampaignView>('PUT', `/api/v1/campaigns/${campaign.id}`, s);
      setSaved(true);
      onSaved(view);
    } catch (e) {
      if (e instanceof ApiError && e.field) setErrors({ [e.field]: e.message });
      else setErrors({ form: messageOf(e) });
    } finally {
      setBusy(false);
    }
  }

  const windowError = (i: number) => errors[`calling_windows[${i}]`] ?? errors[`calling_windows.${i}`];
  return (
    <form onSubmit={submit}>
      <Stack gap="sm">
        {errors.form && <Alert color="red">{errors.form}</Alert>}
        {saved && <Alert color="green">Saved.</Alert>}
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput label="Campaign name" value={s.name} readOnly={readOnly} onChange={(e) => set({ name: e.currentTarget.value })} error={errors.name} />
          <Select
            label="Bot"
            data={bots.map((b) => ({ value: String(b.id), label: b.archived ? `${b.name} (archived)` : b.name, disabled: b.archived && b.id !== s.bot_id }))}
            value={String(s.bot_id)}
            readOnly={readOnly}
            allowDeselect={false}
            onChange={(v) => v && set({ bot_id: Number(v) as unknown as Settings['bot_id'] })}
            error={errors.bot_id}
          />
          <TextInput
            type="datetime-local"
            label="Starts dialling at"
            description="Empty: as soon as it runs"
            value={toLocal(s.starts_at)}
            readOnly={readOnly}
            onChange={(e) => set({ starts_at: fromLocal(e.currentTarget.value) })}
            error={errors.starts_at}
          />
          <TextInput
            type="datetime-local"
            label="Stops dialling at"
            description="Empty: when its contacts are done"
            value={toLocal(s.ends_at)}
            readOnly={readOnly}
            onChange={(e) => set({ ends_at: fromLocal(e.currentTarget.value) })}
            error={errors.ends_at}
          />
        </SimpleGrid>
        <Text fw={600} size="sm">
          Calling windows (each contact's own time zone; none: any time)
        </Text>
        {errors.calling_windows && (
          <Text c="red" size="sm">
            {errors.calling_windows}
          </Text>
        )}
        {windows.map((w, i) => (
          <Card withBorder padding="xs" key={i} data-testid={`window-${i}`}>
            <Group align="flex-end">
              <Chip.Group multiple value={w.days} onChange={(days) => !readOnly && setWindow(i, { ...w, days: days as Window['days'] })}>
                <Group gap={4}>
                  {DAYS.map((d) => (
                    <Chip key={d} value={d} size="xs">
                      {d}
                    </Chip>
                  ))}
                </Group>
              </Chip.Group>
              <TextInput type="time" label="From" value={w.start.slice(0, 5)} readOnly={readOnly} onChange={(e) => setWindow(i, { ...w, start: `${e.currentTarget.value}:00` })} />
              <TextInput type="time" label="Until" value={w.end.slice(0, 5)} readOnly={readOnly} onChange={(e) => setWindow(i, { ...w, end: `${e.currentTarget.value}:00` })} />
              {!readOnly && (
                <ActionIcon variant="subtle" color="red" aria-label={`Remove window ${i + 1}`} onClick={() => set({ calling_windows: windows.filter((_, j) => j !== i) })}>
                  ✕
                </ActionIcon>
              )}
            </Group>
            {windowError(i) && (
              <Text c="red" size="sm">
                {windowError(i)}
              </Text>
            )}
          </Card>
        ))}
        {!readOnly && (
          <Button variant="light" w="fit-content" onClick={() => set({ calling_windows: [...windows, { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00:00', end: '20:00:00' }] })}>
            Add a calling window
          </Button>
        )}
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <NumberInput label="Attempts per contact" min={1} max={20} value={s.max_attempts} readOnly={readOnly} onChange={(v) => set({ max_attempts: Number(v) || 1 })} error={errors.max_attempts} />
          <NumberInput
            label="At most per contact in 24 hours"
            placeholder="no daily cap"
            min={1}
            value={dialler.max_attempts_per_day ?? ''}
            readOnly={readOnly}
            onChange={(v) => setDialler({ max_attempts_per_day: v === '' ? undefined : Number(v) })}
            error={errors['dialler.max_attempts_per_day']}
          />
          <NumberInput
            label="Concurrent calls, at most"
            min={1}
            value={s.concurrency_cap}
            readOnly={readOnly}
            onChange={(v) => set({ concurrency_cap: Number(v) || 1 })}
            error={errors.concurrency_cap}
          />
          <NumberInput label="Weight (share of the fleet)" min={1} value={s.weight} readOnly={readOnly} onChange={(v) => set({ weight: Number(v) || 1 })} error={errors.weight} />
          <NumberInput
            label="Abandon-rate target (%)"
            clampBehavior="none"
            min={0.1}
            max={10}
            step={0.1}
            decimalScale={2}
            value={s.abandon_target * 100}
            readOnly={readOnly}
            onChange={(v) => set({ abandon_target: (Number(v) || 0) / 100 })}
            error={errors.abandon_target}
          />
          <TextInput
            label="Caller ID"
            description="One of your inbound numbers, E.164"
            value={s.caller_id ?? ''}
            readOnly={readOnly}
            onChange={(e) => set({ caller_id: e.currentTarget.value || null })}
            error={errors.caller_id}
          />
          <Select
            label="Dial through"
            description="A carrier account, or the PSTN simulator"
            data={[{ value: '', label: 'PSTN simulator' }, ...(accounts ?? []).map((a) => ({ value: String(a.id), label: `${a.name} (${a.carrier})` }))]}
            value={dialler.carrier_account ? String(dialler.carrier_account) : ''}
            readOnly={readOnly}
            onChange={(v) => setDialler({ carrier_account: v ? Number(v) : undefined })}
            error={errors['dialler.carrier_account']}
            allowDeselect={false}
          />
        </SimpleGrid>
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          <Select
            label="Pacing"
            data={[
              { value: 'predictive', label: 'Predictive (holds the abandon target)' },
              { value: 'progressive', label: 'Progressive (one dial per free slot)' },
              { value: 'ratio', label: 'Fixed ratio' },
            ]}
            value={mode === 'fixed_ratio' ? 'ratio' : mode}
            readOnly={readOnly}
            allowDeselect={false}
            onChange={(v) => v && setDialler({ pacing: v })}
            error={errors['dialler.pacing']}
          />
          {mode === 'ratio' && (
            <NumberInput
              label="Dials per free slot"
              min={1}
              max={5}
              step={0.1}
              decimalScale={2}
              value={dialler.ratio_level ?? 1.5}
              readOnly={readOnly}
              onChange={(v) => setDialler({ ratio_level: Number(v) || 1 })}
              error={errors['dialler.ratio_level']}
            />
          )}
          <TextInput
            label="Default region"
            description="For numbers without a country code, e.g. US"
            value={s.default_region ?? ''}
            readOnly={readOnly}
            onChange={(e) => set({ default_region: (e.currentTarget.value || null) as typeof s.default_region })}
            error={errors.default_region}
          />
          <TextInput
            label="Client"
            description="Whom the campaign calls for: its calls count against that client's slot quota"
            placeholder="acme"
            value={s.client ?? ''}
            readOnly={readOnly}
            onChange={(e) => set({ client: e.currentTarget.value.trim() || null })}
            error={errors.client}
          />
        </SimpleGrid>
        <Text fw={600} size="sm">
          Retry after (minutes; empty: the default)
        </Text>
        <SimpleGrid cols={{ base: 2, sm: 4 }}>
          {RETRIES.map(([code, label]) => (
            <NumberInput
              key={code}
              label={label}
              min={0}
              value={dialler.retry?.[code]?.after_minutes ?? ''}
              readOnly={readOnly}
              onChange={(v) => {
                const retry = { ...(dialler.retry ?? {}) };
                if (v === '') delete retry[code];
                else retry[code] = { after_minutes: Number(v) };
                setDialler({ retry });
              }}
              error={errors[`dialler.retry.${code}`] ?? errors[`dialler.retry.${code}.after_minutes`]}
            />
          ))}
        </SimpleGrid>
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          {LOCKOUTS.map(([code, label]) => (
            <NumberInput
              key={code}
              label={`No call back (hours) ${label.toLowerCase()}`}
              min={0}
              value={dialler.lockout_hours?.[code] ?? ''}
              readOnly={readOnly}
              onChange={(v) => {
                const lockout_hours = { ...(dialler.lockout_hours ?? {}) };
                if (v === '') delete lockout_hours[code];
                else lockout_hours[code] = Number(v);
                setDialler({ lockout_hours });
              }}
              error={errors[`dialler.lockout_hours.${code}`]}
            />
          ))}
        </SimpleGrid>
        {!readOnly && (
          <Group>
            <Button type="submit" loading={busy}>
              Save settings
            </Button>
          </Group>
        )}
      </Stack>
    </form>
  );
}
