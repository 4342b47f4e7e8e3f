// A load that failed: what could not be loaded, the reason, and a retry (never a blank page).
import { Alert, Button, Group, Text } from '@mantine/core';

export function Failed({ title, message, onRetry }: { title: string; message: string; onRetry: () => void }) {
  return (
    <Alert color="red" title={title}>
      <Group>
        <Text size="sm">{message}</Text>
        <Button size="xs" onClick={onRetry}>
          Retry
        </Button>
      </Group>
    </Alert>
  );
}
