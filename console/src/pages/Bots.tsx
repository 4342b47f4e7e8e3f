// Bots: the list (loading, error with a retry, empty), each row opening the bot builder, and a button to create one.
import { Button, Group, Loader, Stack, Table, Text, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { Failed } from '../components/Failed';
import { api, type BotView } from '../api/client';
import { messageOf } from '../lib/load';

type Load = { state: 'loading' } | { state: 'failed'; message: string } | { state: 'ready'; bots: BotView[] };

export function Bots({ role }: { role: string }) {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const navigate = useNavigate();
  const refresh = useCallback(async () => {
    setLoad({ state: 'loading' });
    try {
      const page = await api.send<{ items: BotView[] }>('GET', '/api/v1/bots');
      setLoad({ state: 'ready', bots: page.items });
    } catch (e) {
      setLoad({ state: 'failed', message: messageOf(e) });
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Bots</Title>
        {role !== 'viewer' && (
          <Button component={Link} to="/bots/new">
            New bot
          </Button>
        )}
      </Group>
      {load.state === 'loading' && <Loader />}
      {load.state === 'failed' && <Failed title="The bots could not be loaded" message={load.message} onRetry={refresh} />}
      {load.state === 'ready' && load.bots.length === 0 && <Text c="dimmed">No bots yet.</Text>}
      {load.state === 'ready' && load.bots.length > 0 && (
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Version</Table.Th>
              <Table.Th>Language</Table.Th>
              <Table.Th>Updated</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {load.bots.map((bot) => (
              <Table.Tr key={bot.id} style={{ cursor: 'pointer' }} onClick={() => navigate(`/bots/${bot.id}`)}>
                <Table.Td>{bot.name}</Table.Td>
                <Table.Td>{bot.version}</Table.Td>
                <Table.Td>{bot.spec.language}</Table.Td>
                <Table.Td>{new Date(bot.updated_at).toLocaleString()}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
