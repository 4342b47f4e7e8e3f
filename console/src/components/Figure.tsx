// One figure on a card: a small label over a large value (live views, fleet status, report totals).
import { Card, Text } from '@mantine/core';

export function Figure({ label, value, testId }: { label: string; value: string | number; testId?: string }) {
  return (
    <Card withBorder padding="sm" data-testid={testId}>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="xl">
        {value}
      </Text>
    </Card>
  );
}
