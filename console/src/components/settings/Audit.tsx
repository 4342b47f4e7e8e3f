// The audit log for admins: every operator change, newest first, with what changed, a page at a time.
import { Alert, Button, Card, Code, Loader, Stack, Table, Text } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { api, type components } from '../../api/client';
import { messageOf } from '../../lib/load';

type AuditView = components['schemas']['AuditView'];

export function Audit() {
  const [entries, setEntries] = useState<AuditView[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const more = useCallback(async (after?: string | null) => {
    setBusy(true);
    setError(null);
    try {
      const query = new URLSearchParams({ limit: '50' });
      if (after) query.set('cursor', after);
      const page = await api.send<{ items: AuditView[]; next_cursor?: string | null }>('GET', `/api/v1/audit?${query}`);
      setEntries((old) => (after ? [...old, ...page.items] : page.items));
      setCursor(page.next_cursor ?? null);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  }, []);
  useEffect(() => {
    void more();
  }, [more]);
  return (
    <Card withBorder>
      <Stack gap="xs">
        <Text fw={600}>Audit log</Text>
        {error && (
          <Alert color="red">
            {error}{' '}
            <Button size="xs" variant="white" onClick={() => more(cursor)}>
              Retry
            </Button>
          </Alert>
        )}
        {cursor === undefined && !error && <Loader size="sm" />}
        <Table data-testid="audit-log">
          <Table.Tbody>
            {entries.map((a) => (
              <Table.Tr key={a.id}>
                <Table.Td>{new Date(a.at).toLocaleString()}</Table.Td>
                <Table.Td>{a.actor}</Table.Td>
                <Table.Td>{a.action}</Table.Td>
                <Table.Td>
                  {a.entity}
                  {a.entity_id ? ` ${a.entity_id}` : ''}
                </Table.Td>
                <Table.Td>{a.detail ? <Code>{JSON.stringify(a.detail).slice(0, 160)}</Code> : null}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        {cursor && (
          <Button variant="light" w="fit-content" loading={busy} onClick={() => more(cursor)}>
            More
          </Button>
        )}
      </Stack>
    </Card>
  );
}
