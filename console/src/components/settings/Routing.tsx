// Where calls go: the fleet URLs (admins edit them) and inbound numbers routed to bots.
import { Alert, Button, Card, Group, Loader, Select, Stack, Table, Text, TextInput, Textarea } from '@mantine/core';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, type BotView, type components } from '../../api/client';
import { messageOf, useLoad } from '../../lib/load';

type InboundRoute = components['schemas']['InboundRoute'];

export function Fleets({ canEdit }: { canEdit: boolean }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [fieldError, setFieldError] = useState<string | undefined>();
  const [saved, setSaved] = useState(false);
  const load = useCallback(async () => {
    setError(null);
    try {
      setText((await api.send<{ urls: string[] }>('GET', '/api/v1/fleets')).urls.join('\n'));
    } catch (e) {
      setError(messageOf(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);
  async function save(event: FormEvent) {
    event.preventDefault();
    setFieldError(undefined);
    setSaved(false);
    const urls = (text ?? '')
      .split('\n')
      .map((u) => u.trim())
      .filter(Boolean);
    const bad = urls.findIndex((u) => !/^(https?:\/\/.+|unix:\/.+)$/.test(u));
    if (bad >= 0) return setFieldError(`Line ${bad + 1}: http(s)://host:port or unix:/path.sock.`);
    try {
      await api.send('PUT', '/api/v1/fleets', { urls });
      setSaved(true);
    } catch (e) {
      if (e instanceof ApiError && e.field) setFieldError(`${e.field}: ${e.message}`);
      else setError(messageOf(e));
    }
  }
  return (
    <Card withBorder>
      <form onSubmit={save}>
        <Stack gap="xs">
          <Text fw={600}>Fleets</Text>
          {error && <Alert color="red">{error}</Alert>}
          {saved && <Alert color="green">Saved.</Alert>}
          {text === null && !error && <Loader size="sm" />}
          {text !== null && (
            <Textarea
              label="Fleet URLs"
              description="One per line; the dialler, inbound calls and test calls attach through them"
              value={text}
              readOnly={!canEdit}
              onChange={(e) => setText(e.currentTarget.value)}
              error={fieldError}
              autosize
              minRows={2}
            />
          )}
          {canEdit && (
            <Button type="submit" w="fit-content">
              Save fleets
            </Button>
          )}
        </Stack>
      </form>
    </Card>
  );
}

export function InboundNumbers({ canEdit }: { canEdit: boolean }) {
  const loaded = useLoad(async () => {
    const [routes, bots, fleets] = await Promise.all([
      api.send<InboundRoute[]>('GET', '/api/v1/inbound-numbers'),
      api.send<{ items: BotView[] }>('GET', '/api/v1/bots'),
      api.send<{ urls: string[] }>('GET', '/api/v1/fleets'),
    ]);
    return { routes, bots: bots.items, fleets: fleets.urls };
  }, []);
  const { error: loadError, reload: load } = loaded;
  const routes = loaded.data?.routes ?? null;
  const bots = loaded.data?.bots ?? [];
  const fleets = loaded.data?.fleets ?? [];
  const [fleet, setFleet] = useState<string | null>(null);
  const [client, setClient] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [number, setNumber] = useState('');
  const [botId, setBotId] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  async function route(event: FormEvent) {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!/^\+[1-9]\d{6,14}$/.test(number.trim())) found.number = 'An E.164 number, e.g. +14155550100.';
    if (!botId) found.bot_id = 'Pick the bot that answers.';
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    try {
      await api.send('PUT', `/api/v1/inbound-numbers/${encodeURIComponent(number.trim())}`, { bot_id: Number(botId), fleet: fleet || null, client: client.trim() || null });
      setNumber('');
      await load();
    } catch (e) {
      if (e instanceof ApiError && e.field) setErrors({ [e.field === 'number' ? 'number' : e.field]: e.message });
      else setErrors({ form: messageOf(e) });
    }
  }
  async function unroute(n: string) {
    try {
      await api.send('DELETE', `/api/v1/inbound-numbers/${encodeURIComponent(n)}`);
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  }
  const botName = (id: unknown) => bots.find((b) => b.id === id)?.name ?? `#${String(id)}`;
  return (
    <Card withBorder>
      <Stack gap="xs">
        <Text fw={600}>Inbound numbers</Text>
        {(error ?? loadError) && <Alert color="red">{error ?? loadError}</Alert>}
        {!routes && !loadError && <Loader size="sm" />}
        {routes && routes.length === 0 && <Text c="dimmed">No number is routed yet.</Text>}
        {routes && routes.length > 0 && (
          <Table>
            <Table.Tbody>
              {routes.map((r) => (
                <Table.Tr key={r.number}>
                  <Table.Td>{r.number}</Table.Td>
                  <Table.Td>{botName(r.bot_id)}</Table.Td>
                  <Table.Td>{r.fleet ? `fleet ${r.fleet}` : 'any fleet'}</Table.Td>
                  <Table.Td>{r.client ? `for ${r.client}` : ''}</Table.Td>
                  <Table.Td>
                    {canEdit && (
                      <Button size="xs" variant="subtle" color="red" onClick={() => unroute(r.number)}>
                        Stop routing
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {canEdit && (
          <form onSubmit={route}>
            {errors.form && <Alert color="red">{errors.form}</Alert>}
            <Group align="start">
              <TextInput label="Inbound number" placeholder="+14155550100" value={number} onChange={(e) => setNumber(e.currentTarget.value)} error={errors.number} />
              <Select label="Answered by" data={bots.map((b) => ({ value: String(b.id), label: b.name }))} value={botId} onChange={setBotId} error={errors.bot_id} />
              <Select label="Fleet" placeholder="Any fleet" clearable data={fleets} value={fleet} onChange={setFleet} error={errors.fleet} />
              <TextInput label="Client" placeholder="optional" value={client} onChange={(e) => setClient(e.currentTarget.value)} error={errors.client} />
              <Button type="submit" mt={25}>
                Route
              </Button>
            </Group>
          </form>
        )}
      </Stack>
    </Card>
  );
}
