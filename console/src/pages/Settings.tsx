// Settings: API keys (a new key is shown once, then only its prefix; revoke) for admins, and the do-not-call list (add with the Backend's field errors, remove).
import { Alert, Badge, Button, Card, Code, Group, Loader, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, type components } from '../api/client';

type ApiKeyView = components['schemas']['ApiKeyView'];
type CreatedApiKey = components['schemas']['CreatedApiKey'];
type DncView = components['schemas']['DncView'];

export function Settings({ role }: { role: string }) {
  return (
    <Stack>
      <Title order={2}>Settings</Title>
      {role === 'admin' && <ApiKeys />}
      <Dnc canEdit={role !== 'viewer'} />
    </Stack>
  );
}

function ApiKeys() {
  const [keys, setKeys] = useState<ApiKeyView[] | null>(null);
  const [name, setName] = useState('');
  const [keyRole, setKeyRole] = useState<string | null>('operator');
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setKeys((await api.send<{ items: ApiKeyView[] }>('GET', '/api/v1/api-keys')).items);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  async function create(event: FormEvent) {
    event.preventDefault();
    setError(null);
    if (!name.trim()) return setError('Name the key after what will use it.');
    try {
      setCreated(await api.send<CreatedApiKey>('POST', '/api/v1/api-keys', { name, role: keyRole }));
      setName('');
      await load();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  async function revoke(id: number) {
    try {
      await api.send('DELETE', `/api/v1/api-keys/${id}`);
      await load();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <Card withBorder>
      <Stack gap="xs">
        <Text fw={600}>API keys</Text>
        <form onSubmit={create}>
          <Group align="end">
            <TextInput label="Key name" value={name} onChange={(e) => setName(e.currentTarget.value)} />
            <Select label="Role" data={['viewer', 'operator', 'admin']} value={keyRole} onChange={setKeyRole} w={140} />
            <Button type="submit">Create key</Button>
          </Group>
        </form>
        {error && <Alert color="red">{error}</Alert>}
        {created && (
          <Alert color="yellow" title="Copy the key now: it is not shown again" data-testid="new-key">
            <Code>{created.key}</Code>
          </Alert>
        )}
        {!keys && !error && <Loader size="sm" />}
        {keys && (
          <Table>
            <Table.Tbody>
              {keys.map((k) => (
                <Table.Tr key={k.id}>
                  <Table.Td>{k.name}</Table.Td>
                  <Table.Td>
                    <Code>{k.prefix}…</Code>
                  </Table.Td>
                  <Table.Td>{k.role}</Table.Td>
                  <Table.Td>{k.revoked_at ? <Badge color="gray">revoked</Badge> : <Button size="xs" variant="subtle" color="red" onClick={() => revoke(k.id)}>Revoke</Button>}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
    </Card>
  );
}

function Dnc({ canEdit }: { canEdit: boolean }) {
  const [entries, setEntries] = useState<DncView[] | null>(null);
  const [phone, setPhone] = useState('');
  const [reason, setReason] = useState('');
  const [fieldError, setFieldError] = useState<string | undefined>();
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      setEntries((await api.send<{ items: DncView[] }>('GET', '/api/v1/dnc')).items);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  async function add(event: FormEvent) {
    event.preventDefault();
    setFieldError(undefined);
    if (!phone.trim()) return setFieldError('Enter the number to stop calling.');
    try {
      await api.send('POST', '/api/v1/dnc', { phone, reason });
      setPhone('');
      setReason('');
      await load();
    } catch (e) {
      if (e instanceof ApiError && e.field === 'phone') setFieldError(e.message);
      else setError(e instanceof Error ? e.message : String(e));
    }
  }

  async function remove(number: string) {
    try {
      await api.send('DELETE', `/api/v1/dnc/${encodeURIComponent(number)}`);
      await load();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <Card withBorder>
      <Stack gap="xs">
        <Text fw={600}>Do-not-call list</Text>
        {canEdit && (
          <form onSubmit={add}>
            <Group align="start">
              <TextInput label="Number" placeholder="+14155550100" value={phone} onChange={(e) => setPhone(e.currentTarget.value)} error={fieldError} />
              <TextInput label="Reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
              <Button type="submit" mt={25}>
                Add
              </Button>
            </Group>
          </form>
        )}
        {error && <Alert color="red">{error}</Alert>}
        {!entries && !error && <Loader size="sm" />}
        {entries && entries.length === 0 && <Text c="dimmed">Nobody is on the list.</Text>}
        {entries && entries.length > 0 && (
          <Table>
            <Table.Tbody>
              {entries.map((d) => (
                <Table.Tr key={d.phone}>
                  <Table.Td>{d.phone}</Table.Td>
                  <Table.Td>{d.reason}</Table.Td>
                  <Table.Td>{new Date(d.created_at).toLocaleString()}</Table.Td>
                  <Table.Td>
                    {canEdit && (
                      <Button size="xs" variant="subtle" color="red" onClick={() => remove(d.phone)}>
                        Remove
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
    </Card>
  );
}
