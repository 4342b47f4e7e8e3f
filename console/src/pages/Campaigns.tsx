// Campaigns: the list with start / pause / resume / complete (the Backend's refusal shown on the row), a form to create one, and the CSV import with a column-mapping step, upload progress and the per-row report.
import { Alert, Anchor, Badge, Button, Card, FileInput, Group, Loader, NumberInput, Progress, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { Failed } from '../components/Failed';
import { api, ApiError, type BotView, type CampaignView, type ImportReport } from '../api/client';
import { messageOf } from '../lib/load';

export const ACTIONS: Record<string, string[]> = {
  draft: ['start'],
  running: ['pause', 'complete'],
  paused: ['resume', 'complete'],
  completed: [],
};

export function Campaigns({ role }: { role: string }) {
  const [campaigns, setCampaigns] = useState<CampaignView[] | null>(null);
  const [bots, setBots] = useState<BotView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [rowError, setRowError] = useState<Record<number, string>>({});
  const [importing, setImporting] = useState<CampaignView | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      const [c, b] = await Promise.all([api.send<{ items: CampaignView[] }>('GET', '/api/v1/campaigns'), api.send<{ items: BotView[] }>('GET', '/api/v1/bots')]);
      setCampaigns(c.items);
      setBots(b.items);
    } catch (e) {
      setError(messageOf(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  async function act(campaign: CampaignView, action: string) {
    setRowError((old) => ({ ...old, [campaign.id]: '' }));
    try {
      await api.send('POST', `/api/v1/campaigns/${campaign.id}/${action}`, {});
      await load();
    } catch (e) {
      setRowError((old) => ({ ...old, [campaign.id]: messageOf(e) }));
    }
  }

  const canEdit = role !== 'viewer';
  return (
    <Stack>
      <Title order={2}>Campaigns</Title>
      {canEdit && <NewCampaign bots={bots} onCreated={load} />}
      {error && <Failed title="The campaigns could not be loaded" message={error} onRetry={load} />}
      {!campaigns && !error && <Loader />}
      {campaigns && campaigns.length === 0 && <Text c="dimmed">No campaigns yet.</Text>}
      {campaigns && campaigns.length > 0 && (
        <Table>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Bot</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Actions</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {campaigns.map((c) => (
              <Table.Tr key={c.id}>
                <Table.Td>
                  <Anchor component={Link} to={`/campaigns/${c.id}`}>
                    {c.name}
                  </Anchor>
                </Table.Td>
                <Table.Td>{bots.find((b) => b.id === c.bot_id)?.name ?? `#${c.bot_id}`}</Table.Td>
                <Table.Td>
                  <Badge color={c.state === 'running' ? 'green' : 'gray'}>{c.state}</Badge>
                </Table.Td>
                <Table.Td>
                  {canEdit && (
                    <Group gap="xs">
                      <Button size="xs" variant="light" onClick={() => setImporting(c)}>
                        Import contacts
                      </Button>
                      {(ACTIONS[c.state] ?? []).map((a) => (
                        <Button key={a} size="xs" variant="default" onClick={() => act(c, a)}>
                          {a}
                        </Button>
                      ))}
                    </Group>
                  )}
                  {rowError[c.id] && (
                    <Text size="xs" c="red" mt={4}>
                      {rowError[c.id]}
                    </Text>
                  )}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {importing && <Import campaign={importing} onClose={() => setImporting(null)} />}
    </Stack>
  );
}

function NewCampaign({ bots, onCreated }: { bots: BotView[]; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [bot, setBot] = useState<string | null>(null);
  const [region, setRegion] = useState('');
  const [attempts, setAttempts] = useState<number | string>(3);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const missing: Record<string, string> = {};
    if (!name.trim()) missing.name = 'Give the campaign a name.';
    if (!bot) missing.bot_id = 'Pick the bot that talks.';
    setErrors(missing);
    if (Object.keys(missing).length > 0) return;
    setBusy(true);
    try {
      await api.send('POST', '/api/v1/campaigns', {
        name,
        bot_id: Number(bot),
        default_region: region.trim() || undefined,
        max_attempts: Number(attempts),
      });
      setName('');
      onCreated();
    } catch (e) {
      if (e instanceof ApiError && e.field) setErrors({ [e.field]: e.message });
      else setErrors({ form: messageOf(e) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card withBorder>
      <form onSubmit={submit}>
        <Stack gap="xs">
          <Text fw={600}>New campaign</Text>
          {errors.form && <Alert color="red">{errors.form}</Alert>}
          <Group grow align="start">
            <TextInput label="Campaign name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={errors.name} />
            <Select label="Bot" data={bots.map((b) => ({ value: String(b.id), label: b.name }))} value={bot} onChange={setBot} error={errors.bot_id} />
            <TextInput label="Default region" placeholder="US" value={region} onChange={(e) => setRegion(e.currentTarget.value)} error={errors.default_region} />
            <NumberInput label="Attempts per contact" min={1} value={attempts} onChange={setAttempts} error={errors.max_attempts} />
          </Group>
          <Group>
            <Button type="submit" loading={busy}>
              Create campaign
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}

/// The first line of a CSV file, split into column names.
async function header(file: File): Promise<string[]> {
  const text = await file.slice(0, 64 * 1024).text();
  return (text.split(/\r?\n/)[0] ?? '').split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
}

function Import({ campaign, onClose }: { campaign: CampaignView; onClose: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [columns, setColumns] = useState<string[]>([]);
  const [phone, setPhone] = useState<string | null>(null);
  const [zone, setZone] = useState<string | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function pick(chosen: File | null) {
    setFile(chosen);
    setReport(null);
    setError(null);
    if (!chosen) return;
    const names = await header(chosen);
    setColumns(names);
    setPhone(names.find((n) => /phone|number|mobile|cell|tel|msisdn/i.test(n)) ?? null);
    setZone(names.find((n) => /zone|^tz$/i.test(n)) ?? null);
  }

  async function upload() {
    if (!file || !phone) return setError('Pick the file and the column that holds the phone numbers.');
    setError(null);
    const query = new URLSearchParams({ phone_column: phone });
    if (zone) query.set('timezone_column', zone);
    try {
      const result = await api.upload<ImportReport>(`/api/v1/campaigns/${campaign.id}/contacts/import?${query}`, file, 'text/csv', setProgress);
      setReport(result);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setProgress(null);
    }
  }

  return (
    <Card withBorder>
      <Stack gap="xs">
        <Group justify="space-between">
          <Text fw={600}>Import contacts into {campaign.name}</Text>
          <Button size="xs" variant="subtle" onClick={onClose}>
            Close
          </Button>
        </Group>
        <FileInput label="CSV file" accept=".csv,text/csv" value={file} onChange={pick} />
        {columns.length > 0 && (
          <Group grow>
            <Select label="Phone column" data={columns} value={phone} onChange={setPhone} />
            <Select label="Time zone column" data={columns} value={zone} onChange={setZone} clearable placeholder="The campaign's region" />
          </Group>
        )}
        {error && <Alert color="red">{error}</Alert>}
        {progress !== null && <Progress value={progress * 100} animated aria-label="Upload progress" />}
        <Group>
          <Button onClick={upload} disabled={!file}>
            Upload
          </Button>
        </Group>
        {report && (
          <Stack gap={4} data-testid="import-report">
            <Text size="sm">
              {report.rows} rows: {report.imported} imported, {report.duplicates} duplicates, {report.rejected} rejected
            </Text>
            {report.errors.map((p) => (
              <Text key={`${p.line}-${p.field}`} size="sm" c="red">
                line {p.line}, {p.field}: {p.message}
              </Text>
            ))}
            {report.truncated && <Text size="sm">…and more problems than the report lists.</Text>}
          </Stack>
        )}
      </Stack>
    </Card>
  );
}
