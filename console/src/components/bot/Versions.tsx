// A bot's version history: every saved version, a line diff of any two, and restoring an old one as the newest version.
import { Alert, Button, Code, Group, Loader, ScrollArea, Select, Stack, Table, Text } from '@mantine/core';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, type components } from '../../api/client';
import { canonical, diffLines } from '../../lib/diff';
import { Failed } from '../Failed';
import { messageOf } from '../../lib/load';

type Version = components['schemas']['BotVersionView'];

export function Versions({ botId, current, canEdit, onRestore }: { botId: number; current: number; canEdit: boolean; onRestore: (v: Version) => Promise<void> }) {
  const [versions, setVersions] = useState<Version[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [from, setFrom] = useState<string | null>(null);
  const [to, setTo] = useState<string | null>(null);
  const [restoreError, setRestoreError] = useState<string | null>(null);
  const load = useCallback(async () => {
    setError(null);
    try {
      const list = await api.send<Version[]>('GET', `/api/v1/bots/${botId}/versions`);
      setVersions(list);
      if (list.length > 1) {
        setFrom(String(list[1].version));
        setTo(String(list[0].version));
      }
    } catch (e) {
      setError(messageOf(e));
    }
  }, [botId]);
  useEffect(() => {
    void load();
  }, [load, current]);

  const lines = useMemo(() => {
    const a = versions?.find((v) => String(v.version) === from);
    const b = versions?.find((v) => String(v.version) === to);
    return a && b ? diffLines(canonical(a.spec), canonical(b.spec)) : [];
  }, [versions, from, to]);

  if (error) return <Failed title="The versions could not be loaded" message={error} onRetry={load} />;
  if (!versions) return <Loader />;
  const options = versions.map((v) => ({ value: String(v.version), label: `v${v.version}` }));
  const changed = lines.filter((l) => l.kind !== 'same').length;
  return (
    <Stack gap="sm">
      {restoreError && <Alert color="red">{restoreError}</Alert>}
      <Table>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Version</Table.Th>
            <Table.Th>Saved</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {versions.map((v) => (
            <Table.Tr key={v.version}>
              <Table.Td>
                v{v.version}
                {v.version === current ? ' (current)' : ''}
              </Table.Td>
              <Table.Td>{new Date(v.created_at).toLocaleString()}</Table.Td>
              <Table.Td>
                {canEdit && v.version !== current && (
                  <Button
                    size="xs"
                    variant="light"
                    onClick={async () => {
                      setRestoreError(null);
                      try {
                        await onRestore(v);
                      } catch (e) {
                        setRestoreError(messageOf(e));
                      }
                    }}
                  >
                    Restore v{v.version}
                  </Button>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {versions.length > 1 && (
        <>
          <Group>
            <Select label="Compare" data={options} value={from} onChange={setFrom} allowDeselect={false} w={120} />
            <Select label="with" data={options} value={to} onChange={setTo} allowDeselect={false} w={120} />
            <Text size="sm" c="dimmed" mt="lg">
              {changed === 0 ? 'no differences' : `${changed} changed line${changed === 1 ? '' : 's'}`}
            </Text>
          </Group>
          <ScrollArea h={360} type="auto">
            <Code block data-testid="version-diff">
              {lines.map((l, i) => (
                <div key={i} style={{ background: l.kind === 'added' ? '#e6ffec' : l.kind === 'removed' ? '#ffebe9' : undefined }}>
                  {l.kind === 'added' ? '+ ' : l.kind === 'removed' ? '- ' : '  '}
                  {l.text}
                </div>
              ))}
            </Code>
          </ScrollArea>
        </>
      )}
    </Stack>
  );
}
