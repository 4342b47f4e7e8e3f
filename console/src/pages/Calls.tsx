// The call log: filter by state and by words in the transcript, newest first, more pages on demand; a row opens the call.
import { Badge, Button, Group, Loader, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { Failed } from '../components/Failed';
import { api, type CallSummary } from '../api/client';
import { messageOf } from '../lib/load';

const STATES = ['queued', 'leased', 'dialing', 'ringing', 'answered', 'attaching', 'in_progress', 'completed', 'no_answer', 'busy', 'failed', 'machine', 'abandoned', 'canceled'];

export function stateColor(state: string): string {
  if (state === 'completed') return 'green';
  if (['failed', 'abandoned'].includes(state)) return 'red';
  if (['in_progress', 'answered', 'attaching', 'dialing', 'ringing'].includes(state)) return 'blue';
  return 'gray';
}

export function Calls() {
  const navigate = useNavigate();
  const [state, setState] = useState<string | null>(null);
  const [text, setText] = useState('');
  const [calls, setCalls] = useState<CallSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [status, setStatus] = useState<'loading' | 'ready' | 'failed'>('loading');
  const [error, setError] = useState('');

  const load = useCallback(
    async (after: string | null) => {
      setStatus('loading');
      const query = new URLSearchParams({ limit: '50' });
      if (state) query.set('state', state);
      if (text.trim()) query.set('q', text.trim());
      if (after) query.set('cursor', after);
      try {
        const page = await api.send<{ items: CallSummary[]; next_cursor?: string }>('GET', `/api/v1/calls?${query}`);
        setCalls((old) => (after ? [...old, ...page.items] : page.items));
        setCursor(page.next_cursor ?? null);
        setStatus('ready');
      } catch (e) {
        setError(messageOf(e));
        setStatus('failed');
      }
    },
    [state, text],
  );
  useEffect(() => {
    void load(null);
  }, [load]);

  return (
    <Stack>
      <Title order={2}>Calls</Title>
      <Group align="end">
        <Select label="State" placeholder="Any" data={STATES} value={state} onChange={setState} clearable w={180} />
        <TextInput label="Words in the transcript" value={text} onChange={(e) => setText(e.currentTarget.value)} w={260} />
      </Group>
      {status === 'failed' && <Failed title="The calls could not be loaded" message={error} onRetry={() => load(null)} />}
      {status === 'ready' && calls.length === 0 && <Text c="dimmed">No calls match.</Text>}
      {calls.length > 0 && (
        <Table striped highlightOnHover>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Call</Table.Th>
              <Table.Th>Direction</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Outcome</Table.Th>
              <Table.Th>Disposition</Table.Th>
              <Table.Th>Started</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {calls.map((call) => (
              <Table.Tr key={call.id} style={{ cursor: 'pointer' }} onClick={() => navigate(`/calls/${call.id}`)}>
                <Table.Td>#{call.id}</Table.Td>
                <Table.Td>{call.direction}</Table.Td>
                <Table.Td>
                  <Badge color={stateColor(call.state)}>{call.state}</Badge>
                </Table.Td>
                <Table.Td>{call.outcome ?? ''}</Table.Td>
                <Table.Td>{call.disposition ?? ''}</Table.Td>
                <Table.Td>{new Date(call.created_at).toLocaleString()}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {status === 'loading' && <Loader />}
      {status === 'ready' && cursor && (
        <Button variant="light" onClick={() => load(cursor)}>
          Load more
        </Button>
      )}
    </Stack>
  );
}
