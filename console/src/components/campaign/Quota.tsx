// A campaign's quota of call slots held at once across the platform (the capacity registry's), read, set and lifted.
import { Alert, Button, Card, Group, NumberInput, Text } from '@mantine/core';
import { useState } from 'react';
import { api } from '../../api/client';
import { messageOf, useLoad } from '../../lib/load';

type Quota = { slots: number | null };

export function QuotaCard({ campaignId, readOnly }: { campaignId: number; readOnly: boolean }) {
  const path = `/api/v1/fleet/quotas/campaign/${campaignId}`;
  const { data, error, reload } = useLoad(() => api.send<Quota>('GET', path), [path]);
  const [slots, setSlots] = useState<number | string>('');
  const [said, setSaid] = useState<{ ok: boolean; text: string } | null>(null);

  async function save(next: number | null) {
    setSaid(null);
    try {
      const saved = await api.send<Quota>('PUT', path, { slots: next });
      setSaid({ ok: true, text: saved.slots === null ? 'No quota: the campaign takes any free slot.' : `At most ${saved.slots} slots at once.` });
      void reload();
    } catch (e) {
      setSaid({ ok: false, text: messageOf(e) });
    }
  }

  return (
    <Card withBorder data-testid="campaign-quota">
      <Text fw={600}>Slot quota</Text>
      {error && <Text c="red">{error}</Text>}
      {data && (
        <Text size="sm" c="dimmed">
          {data.slots === null ? 'None: the campaign takes any free slot.' : `At most ${data.slots} of the platform's slots at once.`}
        </Text>
      )}
      {!readOnly && (
        <Group align="end" mt="xs">
          <NumberInput label="Slots at once" min={0} max={100000} value={slots} onChange={setSlots} />
          <Button disabled={slots === ''} onClick={() => void save(Number(slots))}>
            Set quota
          </Button>
          <Button variant="default" onClick={() => void save(null)}>
            Lift
          </Button>
        </Group>
      )}
      {said && (
        <Alert mt="xs" color={said.ok ? 'green' : 'red'}>
          {said.text}
        </Alert>
      )}
    </Card>
  );
}
