// One call: its timings, the transcript as a chat (tool calls with what they found; turn verdicts, interruptions and idle prompts also on a time line), the stereo recording in a player that can seek, the analysis, QC findings and the state history.
import { Badge, Button, Card, Group, Loader, Paper, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { Failed } from '../components/Failed';
import { api, type CallDetail } from '../api/client';
import { stateColor } from './Calls';
import { messageOf } from '../lib/load';
import { ToolLine } from '../components/call/ToolLine';
import { TurnTimeline } from '../components/call/TurnTimeline';
import { describeEvent } from '../lib/turn';

function when(at?: string | null) {
  return at ? new Date(at).toLocaleString() : '—';
}

export function Call() {
  const { id } = useParams();
  const [call, setCall] = useState<CallDetail | null>(null);
  const [audio, setAudio] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      const detail = await api.send<CallDetail>('GET', `/api/v1/calls/${id}`);
      setCall(detail);
      if (detail.result?.recording) {
        const link = await api.send<{ url: string }>('GET', `/api/v1/calls/${id}/recording/link`);
        setAudio(`${api.base}${link.url}`);
      }
    } catch (e) {
      setError(messageOf(e));
    }
  }, [id]);
  useEffect(() => {
    void load();
  }, [load]);

  if (error) {
    return <Failed title={`Call ${id} could not be loaded`} message={error} onRetry={load} />;
  }
  if (!call) return <Loader />;
  const result = call.result;
  return (
    <Stack>
      <Group>
        <Button component={Link} to="/calls" variant="subtle" size="xs">
          ← Calls
        </Button>
      </Group>
      <Group>
        <Title order={2}>Call #{call.id}</Title>
        <Badge color={stateColor(call.state)}>{call.state}</Badge>
        {call.outcome && <Badge variant="outline">{call.outcome}</Badge>}
        {call.disposition && <Badge variant="light">{call.disposition}</Badge>}
      </Group>
      <SimpleGrid cols={{ base: 1, sm: 4 }}>
        <Text size="sm">
          Direction: {call.direction}
          {call.from || call.to ? ` · ${call.from ?? '?'} → ${call.to ?? '?'}` : ''}
        </Text>
        <Text size="sm">Created: {when(call.created_at)}</Text>
        <Text size="sm">Answered: {when(call.answered_at)}</Text>
        <Text size="sm">Ended: {when(call.ended_at)}</Text>
      </SimpleGrid>
      {audio && (
        <Card withBorder>
          <Text fw={600} mb="xs">
            Recording (caller left, bot right)
          </Text>
          <audio controls preload="metadata" src={audio} style={{ width: '100%' }} data-testid="recording" />
        </Card>
      )}
      <Card withBorder>
        <Text fw={600} mb="xs">
          Transcript
        </Text>
        <TurnTimeline lines={result?.transcript ?? []} durationMs={result?.recording?.duration_ms} />
        <Stack gap={6}>
          {(result?.transcript ?? []).map((line, i) => (
            <Group key={i} justify={line.speaker === 'assistant' ? 'flex-end' : line.speaker === 'user' ? 'flex-start' : 'center'}>
              <Paper
                p="xs"
                radius="md"
                maw="75%"
                bg={line.speaker === 'assistant' ? 'blue.0' : line.speaker === 'user' ? 'gray.1' : undefined}
                withBorder={line.speaker !== 'assistant' && line.speaker !== 'user'}
              >
                <Text size="xs" c="dimmed">
                  {line.speaker} · {(line.at_ms / 1000).toFixed(1)} s{line.interrupted ? ' · interrupted' : ''}
                </Text>
                {line.speaker === 'tool' ? (
                  <ToolLine text={line.text} detail={line.detail} />
                ) : (
                  <Text size="sm" data-testid={describeEvent(line.detail)?.testId}>
                    {describeEvent(line.detail)?.summary ?? line.text}
                  </Text>
                )}
              </Paper>
            </Group>
          ))}
          {!result && <Text c="dimmed">No result yet.</Text>}
        </Stack>
      </Card>
      {result && Object.keys(result.analysis ?? {}).length > 0 && (
        <Card withBorder>
          <Text fw={600} mb="xs">
            Analysis
          </Text>
          <Table>
            <Table.Tbody>
              {Object.entries(result.analysis ?? {}).map(([k, v]) => (
                <Table.Tr key={k}>
                  <Table.Td>{k}</Table.Td>
                  <Table.Td>{typeof v === 'string' ? v : JSON.stringify(v)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}
      {result && (result.qc_findings ?? []).length > 0 && (
        <Card withBorder>
          <Text fw={600} mb="xs">
            QC findings
          </Text>
          {(result.qc_findings ?? []).map((f, i) => (
            <Text key={i} size="sm" c={f.passed ? 'green' : 'red'}>
              {f.passed ? '✓' : '✗'} {f.rule}
              {f.note ? ` — ${f.note}` : ''}
            </Text>
          ))}
        </Card>
      )}
      <Card withBorder>
        <Text fw={600} mb="xs">
          History
        </Text>
        {call.events.map((e, i) => (
          <Text key={i} size="sm">
            {when(e.at)}: {e.from_state ?? '·'} → {e.to_state}
            {e.outcome ? ` (${e.outcome})` : ''}
          </Text>
        ))}
      </Card>
    </Stack>
  );
}
