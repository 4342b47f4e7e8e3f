// A campaign's live view: its calls by stage, the last hour's answer and abandon rates against the target, and the dialler's pacing, refreshed every two seconds without a page reload.
import { Alert, Badge, Card, Group, Progress, SimpleGrid, Stack, Text } from '@mantine/core';
import { api, type components } from '../../api/client';
import { usePoll } from '../../lib/load';
import { Figure } from '../Figure';

type Live = components['schemas']['CampaignLive'];
const EVERY_MS = 2000;

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)} %`);

export function LiveView({ campaignId }: { campaignId: number }) {
  const { data: live, error } = usePoll(() => api.send<Live>('GET', `/api/v1/campaigns/${campaignId}/live`), EVERY_MS, [campaignId]);

  if (!live)
    return error ? (
      <Alert color="red" title="The live view could not be loaded">
        {error} (retrying)
      </Alert>
    ) : (
      <Text c="dimmed">Loading the live view…</Text>
    );
  const hour = live.last_hour;
  const target = live.abandon_target;
  const over = hour.abandon_rate > target;
  const pacing = live.pacing;
  return (
    <Stack gap="sm" data-testid="live-view">
      {error && <Alert color="yellow">The last refresh failed: {error} (retrying)</Alert>}
      <SimpleGrid cols={{ base: 2, sm: 4 }}>
        <Figure label="Dialling" value={live.now.dialing} testId="live-dialing" />
        <Figure label="Ringing" value={live.now.ringing} />
        <Figure label="Answered, waiting for a worker" value={live.now.answered} />
        <Figure label="In conversation" value={live.now.in_conversation} />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 2, sm: 4 }}>
        <Figure label="Dials, last hour" value={hour.calls} testId="live-dials" />
        <Figure label="Answer rate" value={pct(hour.answer_rate)} />
        <Figure label="Human answers" value={hour.human} />
        <Figure label="Completed" value={hour.completed} />
      </SimpleGrid>
      <Card withBorder padding="sm">
        <Group justify="space-between">
          <Text size="sm">
            Abandon rate, last hour: <b>{pct(hour.abandon_rate)}</b> against a target of {pct(target)}
          </Text>
          <Badge color={over ? 'red' : 'green'}>{over ? 'over target' : 'within target'}</Badge>
        </Group>
        <Progress mt="xs" value={Math.min(100, target > 0 ? (hour.abandon_rate / target) * 100 : 0)} color={over ? 'red' : 'green'} />
      </Card>
      <Card withBorder padding="sm" data-testid="live-pacing">
        {pacing ? (
          <Stack gap={4}>
            <Group justify="space-between">
              <Text size="sm">
                Pacing: <b>{pacing.decision.applied.replace('_', ' ')}</b>
                {pacing.decision.dial_level != null && <> · dial level {pacing.decision.dial_level.toFixed(2)}</>} · {pacing.decision.dials} dial(s) placed at the last decision ·{' '}
                {pacing.decision.slots.toFixed(1)} slot(s) held
              </Text>
              {pacing.stale ? <Badge color="yellow">no decision since {new Date(pacing.decided_at).toLocaleTimeString()}</Badge> : <Badge color="green">deciding</Badge>}
            </Group>
            <Text size="xs" c="dimmed">
              Aiming at {pct(pacing.decision.aimed_abandon_rate)} abandoned · measured {pct(pacing.decision.abandon_recent)} (30 min), {pct(pacing.decision.abandon_legal)} (legal window) · answer rate{' '}
              {pct(pacing.decision.answer_rate)} · AHT {pacing.decision.aht_seconds != null ? `${pacing.decision.aht_seconds.toFixed(0)} s` : '–'} · by {pacing.holder}
            </Text>
          </Stack>
        ) : (
          <Text size="sm" c="dimmed">
            The dialler has not paced this campaign yet.
          </Text>
        )}
      </Card>
      <Text size="xs" c="dimmed">
        Updated {new Date(live.at).toLocaleTimeString()}
      </Text>
    </Stack>
  );
}
