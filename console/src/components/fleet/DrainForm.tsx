// Draining a worker or a whole host through the capacity registry, and putting it back: it keeps its calls and gets no new one.
import { Alert, Button, Group, SegmentedControl, Stack, TextInput } from '@mantine/core';
import { useState } from 'react';
import { api } from '../../api/client';
import { messageOf } from '../../lib/load';

type Target = 'worker' | 'host';

export function DrainForm() {
  const [target, setTarget] = useState<Target>('worker');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [said, setSaid] = useState<{ ok: boolean; text: string } | null>(null);

  async function send(draining: boolean) {
    setBusy(true);
    setSaid(null);
    try {
      const body = { target, name: name.trim(), draining };
      await api.send('POST', '/api/v1/fleet/drain', body);
      setSaid({ ok: true, text: `${target === 'worker' ? 'Worker' : 'Host'} ${name.trim()} ${draining ? 'is draining: it keeps its calls and gets no new one' : 'takes calls again'}.` });
    } catch (e) {
      setSaid({ ok: false, text: messageOf(e) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <Stack gap="xs" data-testid="drain-form">
      <Group align="end">
        <SegmentedControl
          value={target}
          onChange={(v) => setTarget(v as Target)}
          data={[
            { value: 'worker', label: 'Worker' },
            { value: 'host', label: 'Host' },
          ]}
        />
        <TextInput label={target === 'worker' ? 'Worker id' : 'Host'} value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <Button loading={busy} disabled={!name.trim()} color="yellow" onClick={() => void send(true)}>
          Drain
        </Button>
        <Button loading={busy} disabled={!name.trim()} variant="default" onClick={() => void send(false)}>
          Put back
        </Button>
      </Group>
      {said && <Alert color={said.ok ? 'green' : 'red'}>{said.text}</Alert>}
    </Stack>
  );
}
