// Reports: answer rate, abandon rate and average handle time over time, dispositions, for all calls or one campaign or bot, and the call records as CSV.
import { LineChart } from '@mantine/charts';
import { Button, Card, Group, Loader, Select, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { Failed } from '../components/Failed';
import { api, type BotView, type CampaignView } from '../api/client';
import { messageOf } from '../lib/load';
import { Figure } from '../components/Figure';

interface Figures {
  calls: number;
  answered: number;
  abandoned: number;
  completed: number;
  answer_rate: number;
  abandon_rate: number;
  aht_seconds: number;
}
interface Report {
  totals: Figures;
  buckets: Array<Figures & { start: string }>;
  dispositions: Array<{ disposition: string; count: number }>;
}

const RANGES: Record<string, number> = { '24 hours': 1, '7 days': 7, '30 days': 30 };
const percent = (x: number) => `${(x * 100).toFixed(1)} %`;

export function Reports() {
  const [range, setRange] = useState<string>('7 days');
  const [scope, setScope] = useState<string | null>(null);
  const [choices, setChoices] = useState<Array<{ value: string; label: string }>>([]);
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    void (async () => {
      try {
        const [c, b] = await Promise.all([api.send<{ items: CampaignView[] }>('GET', '/api/v1/campaigns'), api.send<{ items: BotView[] }>('GET', '/api/v1/bots')]);
        setChoices([...c.items.map((x) => ({ value: `campaign_id=${x.id}`, label: `Campaign: ${x.name}` })), ...b.items.map((x) => ({ value: `bot_id=${x.id}`, label: `Bot: ${x.name}` }))]);
      } catch {
        // The scope list is a convenience: the report still loads for all calls.
      }
    })();
  }, []);

  const window = useCallback(() => {
    const until = new Date(Date.now() + 60_000);
    const since = new Date(until.getTime() - RANGES[range] * 86_400_000);
    const query = new URLSearchParams({ since: since.toISOString(), until: until.toISOString() });
    if (scope) {
      const [key, value] = scope.split('=');
      query.set(key, value);
    }
    return query;
  }, [range, scope]);

  const load = useCallback(async () => {
    setError(null);
    setReport(null);
    const query = window();
    query.set('bucket', range === '24 hours' ? 'hour' : 'day');
    try {
      setReport(await api.send<Report>('GET', `/api/v1/reports/calls?${query}`));
    } catch (e) {
      setError(messageOf(e));
    }
  }, [window, range]);
  useEffect(() => {
    void load();
  }, [load]);

  async function exportCsv() {
    const query = window();
    try {
      const blob = await api.download(`/api/v1/calls/export.csv?${query}`);
      const link = document.createElement('a');
      link.href = URL.createObjectURL(blob);
      link.download = 'calls.csv';
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  const points = (report?.buckets ?? []).map((b) => ({
    at: new Date(b.start).toLocaleString(),
    'answer rate %': +(b.answer_rate * 100).toFixed(1),
    'abandon rate %': +(b.abandon_rate * 100).toFixed(1),
    'AHT s': +b.aht_seconds.toFixed(0),
  }));
  return (
    <Stack>
      <Title order={2}>Reports</Title>
      <Group align="end">
        <Select label="Range" data={Object.keys(RANGES)} value={range} onChange={(v) => v && setRange(v)} w={140} />
        <Select label="Scope" placeholder="All calls" data={choices} value={scope} onChange={setScope} clearable w={280} />
        <Button variant="light" onClick={exportCsv}>
          Export CSV
        </Button>
      </Group>
      {error && <Failed title="The report could not be loaded" message={error} onRetry={load} />}
      {!report && !error && <Loader />}
      {report && (
        <>
          <SimpleGrid cols={{ base: 2, sm: 5 }} data-testid="totals">
            <Figure label="Calls" value={String(report.totals.calls)} />
            <Figure label="Answered" value={percent(report.totals.answer_rate)} />
            <Figure label="Abandoned" value={percent(report.totals.abandon_rate)} />
            <Figure label="Completed" value={String(report.totals.completed)} />
            <Figure label="Average handle" value={`${report.totals.aht_seconds.toFixed(0)} s`} />
          </SimpleGrid>
          <Card withBorder>
            <Text fw={600} mb="xs">
              Over time
            </Text>
            {points.length === 0 ? (
              <Text c="dimmed">No calls in this range.</Text>
            ) : (
              <LineChart
                h={260}
                data={points}
                dataKey="at"
                series={[
                  { name: 'answer rate %', color: 'blue.6' },
                  { name: 'abandon rate %', color: 'red.6' },
                  { name: 'AHT s', color: 'teal.6' },
                ]}
                withLegend
              />
            )}
          </Card>
          <Card withBorder>
            <Text fw={600} mb="xs">
              Dispositions
            </Text>
            <Table>
              <Table.Tbody>
                {report.dispositions.map((d) => (
                  <Table.Tr key={d.disposition}>
                    <Table.Td>{d.disposition}</Table.Td>
                    <Table.Td>{d.count}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Card>
        </>
      )}
    </Stack>
  );
}
