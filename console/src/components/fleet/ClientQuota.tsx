// A client's quota of call slots held at once across the platform, for every call made for it (its campaigns' and inbound numbers'): read, set and lifted.
import { Alert, Button, Group, NumberInput, Stack, TextInput } from '@mantine/core';
import { useState } from 'react';
import { api } from '../../api/client';
import { messageOf } from '../../lib/load';

type Quota = { slots: number | null };

export function ClientQuotaForm() {
  const [client, setClient] = useState('');
  const [slots, setSlots] = useState<number | string>('');
  const [said, setSaid] = useState<{ ok: boolean; text: string } | null>(null);
  const path = () => `/api/v1/fleet/quotas/client/${encodeURIComponent(client.trim())}`;

  async function run(action: () => Promise<string>) {
    setSaid(null);
    try {
      setSaid({ ok: true, text: await action() });
    } catch (e) {
      setSaid({ ok: false, text: messageOf(e) });
    }
  }
  const describe = (q: Quota) => (q.slots === null ? `${client.trim()} has no quota: its calls take any free slot.` : `${client.trim()} may hold at most ${q.slots} slots at once.`);

  return (
    <Stack gap="xs" data-testid="client-quota">
      <Group align="end">
        <TextInput label="Client" placeholder="acme" value={client} onChange={(e) => setClient(e.currentTarget.value)} />
        <NumberInput label="Slots at once" min={0} max={100000} value={slots} onChange={setSlots} />
        <Button variant="default" disabled={!client.trim()} onClick={() => void run(async () => describe(await api.send<Quota>('GET', path())))}>
          Look up
        </Button>
        <Button disabled={!client.trim() || slots === ''} onClick={() => void run(async () => describe(await api.send<Quota>('PUT', path(), { slots: Number(slots) })))}>
          Set client quota
        </Button>
        <Button variant="default" disabled={!client.trim()} onClick={() => void run(async () => describe(await api.send<Quota>('PUT', path(), { slots: null })))}>
          Lift
        </Button>
      </Group>
      {said && <Alert color={said.ok ? 'green' : 'red'}>{said.text}</Alert>}
    </Stack>
  );
}
