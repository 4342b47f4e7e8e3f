// The call page's turn-taking time line: each turn verdict, interruption and idle prompt as a mark on the call's length (its words and moment on hover), with their counts.
import { Box, Group, Stack, Text, Tooltip } from '@mantine/core';
import { turnTimeline, type EventKind } from '../../lib/turn';

const COLORS: Record<EventKind, string> = {
  turn: 'var(--mantine-color-teal-6)',
  interruption: 'var(--mantine-color-orange-6)',
  idle: 'var(--mantine-color-grape-6)',
};

const NAMES: Record<EventKind, string> = { turn: 'turn verdict', interruption: 'interruption', idle: 'idle prompt' };

export function TurnTimeline({ lines, durationMs }: { lines: { at_ms: number; detail?: unknown }[]; durationMs?: number | null }) {
  const timeline = turnTimeline(lines, durationMs);
  if (timeline.marks.length === 0) return null;
  return (
    <Stack gap={4} mb="sm">
      <Text size="sm" data-testid="turn-counts">
        {timeline.counts}
      </Text>
      <Box pos="relative" h={18} bg="gray.1" style={{ borderRadius: 4 }} data-testid="turn-timeline" role="list" aria-label="Turn-taking time line">
        {timeline.marks.map((mark, i) => (
          <Tooltip key={i} label={`${(mark.atMs / 1000).toFixed(1)} s · ${mark.summary}`}>
            <Box
              role="listitem"
              aria-label={`${(mark.atMs / 1000).toFixed(1)} s: ${mark.summary}`}
              pos="absolute"
              top={3}
              w={12}
              h={12}
              style={{ left: `calc(${mark.left}% - 6px)`, borderRadius: 6, background: COLORS[mark.kind] }}
            />
          </Tooltip>
        ))}
      </Box>
      <Group gap="md">
        {(Object.keys(COLORS) as EventKind[])
          .filter((kind) => timeline.marks.some((m) => m.kind === kind))
          .map((kind) => (
            <Group key={kind} gap={4}>
              <Box w={10} h={10} style={{ borderRadius: 5, background: COLORS[kind] }} />
              <Text size="xs" c="dimmed">
                {NAMES[kind]}
              </Text>
            </Group>
          ))}
      </Group>
    </Stack>
  );
}
