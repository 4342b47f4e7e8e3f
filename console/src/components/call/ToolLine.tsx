// A tool call in the call page's transcript: what was asked, how long it took, the error if it failed, and a knowledge search's passages with their sources (or a webhook's arguments and result) folded under it.
import { Code, Stack, Text } from '@mantine/core';
import { describeToolCall } from '../../lib/toolcall';

export function ToolLine({ text, detail }: { text: string; detail: unknown }) {
  const view = describeToolCall(text, detail);
  return (
    <Stack gap={4} data-testid="tool-call">
      <Text size="sm">
        {view.summary}
        {view.durationMs !== undefined && <Text span c="dimmed" size="xs">{` · ${view.durationMs} ms`}</Text>}
      </Text>
      {view.error && (
        <Text size="sm" c="red">
          {view.error}
        </Text>
      )}
      {view.passages && view.passages.length > 0 && (
        <details>
          <summary>
            <Text span size="sm">
              {view.passages.length} passage{view.passages.length === 1 ? '' : 's'} from {[...new Set(view.passages.map((p) => p.source))].join(', ')}
            </Text>
          </summary>
          <Stack gap={4} mt={4}>
            {view.passages.map((p, i) => (
              <Text key={i} size="xs">
                <Text span fw={600} size="xs">
                  {p.source}:
                </Text>{' '}
                {p.text}
              </Text>
            ))}
          </Stack>
        </details>
      )}
      {view.passages === undefined && (view.arguments !== undefined || view.result !== undefined) && (
        <details>
          <summary>
            <Text span size="sm">
              Arguments and result
            </Text>
          </summary>
          <Code block>{JSON.stringify({ arguments: view.arguments, result: view.result }, null, 2)}</Code>
        </details>
      )}
    </Stack>
  );
}
