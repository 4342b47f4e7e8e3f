// A test call from the browser: the Backend attaches a web call to a free worker, the microphone talks to the bot over the `vox` media protocol, and the live transcript shows as a chat.
import { Alert, Badge, Button, Card, Group, Paper, Stack, Text } from '@mantine/core';
import { useEffect, useRef, useState } from 'react';
import { api, type components } from '../../api/client';
import { VoxCall, type Line } from '../../lib/voxcall';
import { messageOf } from '../../lib/load';

type Accepted = components['schemas']['AttachAccepted'];

export function TestCall({ botId, canCall }: { botId: number; canCall: boolean }) {
  const [state, setState] = useState<'idle' | 'connecting' | 'live' | 'ended'>('idle');
  const [detail, setDetail] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [lines, setLines] = useState<Line[]>([]);
  const [callId, setCallId] = useState<number | null>(null);
  const call = useRef<VoxCall | null>(null);
  useEffect(() => () => call.current?.hangUp(), []);

  async function start() {
    setError(null);
    setLines([]);
    setDetail(null);
    setState('connecting');
    try {
      const accepted = await api.send<Accepted>('POST', `/api/v1/bots/${botId}/test-call`, {});
      setCallId(accepted.call_id as unknown as number);
      const voxCall = new VoxCall(accepted.media_url, {
        onLine: (line) => setLines((old) => [...old, line]),
        onState: (s, why) => {
          setState(s);
          if (why) setDetail(why);
        },
      });
      call.current = voxCall;
      await voxCall.start();
    } catch (e) {
      setState('idle');
      setError(messageOf(e));
    }
  }

  return (
    <Card withBorder>
      <Stack gap="sm">
        <Group justify="space-between">
          <Group>
            <Text fw={600}>Test call</Text>
            <Badge color={state === 'live' ? 'green' : 'gray'} data-testid="test-call-state">
              {state}
            </Badge>
            {callId !== null && (
              <Text size="sm" c="dimmed">
                call #{callId}
              </Text>
            )}
          </Group>
          {state === 'live' || state === 'connecting' ? (
            <Button color="red" onClick={() => call.current?.hangUp()}>
              Hang up
            </Button>
          ) : (
            <Button onClick={start} disabled={!canCall}>
              Start a test call
            </Button>
          )}
        </Group>
        <Text size="sm" c="dimmed">
          Talks to the bot's saved version through your microphone, like a caller would.
        </Text>
        {error && (
          <Alert color="red" title="The test call could not start">
            {error}
          </Alert>
        )}
        {detail && state === 'ended' && <Text size="sm">{detail}</Text>}
        <Stack gap={6} data-testid="live-transcript">
          {lines.map((line, i) => (
            <Group key={i} justify={line.speaker === 'user' ? 'flex-end' : 'flex-start'}>
              <Paper p="xs" radius="md" bg={line.speaker === 'user' ? 'blue.0' : 'gray.1'} maw="80%">
                <Text size="sm">
                  {line.text}
                  {line.interrupted ? ' …' : ''}
                </Text>
              </Paper>
            </Group>
          ))}
        </Stack>
      </Stack>
    </Card>
  );
}
