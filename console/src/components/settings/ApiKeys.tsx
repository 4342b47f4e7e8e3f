// API keys for machine clients: a new key is shown once, then only its prefix; revoke.
import { Alert, Badge, Button, Card, Code, Group, Loader, Select, Stack, Table, Text, TextInput } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { api, type components } from '../../api/client';
import { messageOf, useLoad } from '../../lib/load';

type ApiKeyView = components['schemas']['ApiKeyView'];
type CreatedApiKey = components['schemas']['CreatedApiKey'];

export function ApiKeys() {
  const [name, setName] = useState('');
  const [keyRole, setKeyRole] = useState<string | null>('operator');
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [error, setError] = useState<string | null>(null);

  const { data: keys, error: loadError, reload: load } = useLoad(async () => (await api.send<{ items: ApiKeyView[] }>('GET', '/api/v1/api-keys')).items, []);

  async function create(event: FormEvent) {
    event.preventDefault();
    setError(null);
    if (!name.trim()) return setError('Name the key after what will use it.');
    try {
      setCreated(await api.send<CreatedApiKey>('POST', '/api/v1/api-keys', { name, role: keyRole }));
      setName('');
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function revoke(id: number) {
    try {
      await api.send('DELETE', `/api/v1/api-keys/${id}`);
      await load();
    } catch (e) {
      setError(messageOf(e));
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
        {(error ?? loadError) && <Alert color="red">{error ?? loadError}</Alert>}
        {created && (
          <Alert color="yellow" title="Copy the key now: it is not shown again" data-testid="new-key">
            <Code>{created.key}</Code>
          </Alert>
        )}
        {!keys && !loadError && <Loader size="sm" />}
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
                  <Table.Td>
                    {k.revoked_at ? (
                      <Badge color="gray">revoked</Badge>
                    ) : (
                      <Button size="xs" variant="subtle" color="red" onClick={() => revoke(k.id)}>
                        Revoke
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
