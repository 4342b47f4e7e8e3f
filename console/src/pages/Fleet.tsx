// Fleet status: each fleet's workers (calls, free slots, draining, down), the totals, the capacity registry's view when there is one (with draining a worker or a host), and the dialler's leader lease, refreshed every five seconds.
import { Alert, Badge, Card, Group, Loader, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { api, type components } from '../api/client';
import { Figure } from '../components/Figure';
import { ClientQuotaForm } from '../components/fleet/ClientQuota';
import { DrainForm } from '../components/fleet/DrainForm';
import { usePoll } from '../lib/load';

type FleetStatus = components['schemas']['FleetStatus'];
const EVERY_MS = 5000;

export function Fleet({ role }: { role: string }) {
  const canEdit = role !== 'viewer';
  const { data: status, error } = usePoll(() => api.send<FleetStatus>('GET', '/api/v1/fleet/status'), EVERY_MS, []);

  const dialler = status?.dialler;
  return (
    <Stack>
      <Title order={2}>Fleet</Title>
      {error && <Alert color={status ? 'yellow' : 'red'}>The fleet status could not be read: {error} (retrying)</Alert>}
      {!status && !error && <Loader />}
      {status && (
        <>
          <SimpleGrid cols={{ base: 2, sm: 5 }} data-testid="fleet-totals">
            <Figure label="Workers up" value={status.workers_up} />
            <Figure label="Workers down" value={status.workers_down} />
            <Figure label="Calls in progress" value={status.calls_in_progress} />
            <Figure label="Free slots" value={status.free_slots} />
            <Figure label="Draining" value={status.draining} />
          </SimpleGrid>
          <Card withBorder>
            <Group justify="space-between">
              <Text fw={600}>Dialler</Text>
              {dialler ? <Badge color={dialler.healthy ? 'green' : 'red'}>{dialler.healthy ? 'leading' : 'lease expired'}</Badge> : <Badge color="gray">never ran</Badge>}
            </Group>
            {dialler && (
              <Text size="sm" c="dimmed">
                {dialler.holder} holds the lease (fencing token {dialler.fencing_token}) until {new Date(dialler.expires_at).toLocaleTimeString()}
              </Text>
            )}
          </Card>
          {status.registry && (
            <Card withBorder data-testid="fleet-registry">
              <Group justify="space-between">
                <Text fw={600}>Capacity registry</Text>
                {status.registry.error ? <Badge color="red">unreachable</Badge> : <Badge color="green">answering</Badge>}
              </Group>
              {status.registry.error ? (
                <Text size="sm" c="red">
                  {status.registry.error}
                </Text>
              ) : (
                <Text size="sm" c="dimmed">
                  {status.registry.workers} workers heartbeating, {status.registry.slots} slots, {status.registry.free} free, {status.registry.draining} draining
                </Text>
              )}
              {canEdit && <DrainForm />}
              {canEdit && <ClientQuotaForm />}
            </Card>
          )}
          {status.fleets.length === 0 && <Text c="dimmed">No fleet is configured: add one under Settings → Fleets and routing.</Text>}
          {status.fleets.map((fleet) => (
            <Card withBorder key={fleet.url}>
              <Group justify="space-between" mb="xs">
                <Text fw={600}>{fleet.url}</Text>
                {fleet.health ? <Badge color="green">answering</Badge> : <Badge color="red">unreachable</Badge>}
              </Group>
              {fleet.error && (
                <Text size="sm" c="red">
                  {fleet.error}
                </Text>
              )}
              {fleet.health && (
                <Table>
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Worker</Table.Th>
                      <Table.Th>State</Table.Th>
                      <Table.Th>Calls</Table.Th>
                      <Table.Th>Free</Table.Th>
                      <Table.Th>Version</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {fleet.health.workers.map((w) => (
                      <Table.Tr key={w.endpoint}>
                        <Table.Td>{w.health?.worker_id ?? w.endpoint}</Table.Td>
                        <Table.Td>
                          {w.health ? <Badge color={w.health.draining ? 'yellow' : 'green'}>{w.health.draining ? 'draining' : w.health.status}</Badge> : <Badge color="red">down</Badge>}
                          {w.error && (
                            <Text size="xs" c="red">
                              {w.error}
                            </Text>
                          )}
                        </Table.Td>
                        <Table.Td>{w.health ? `${w.health.worker_calls} / ${w.health.worker_max}` : '–'}</Table.Td>
                        <Table.Td>{w.health?.fleet_available ?? '–'}</Table.Td>
                        <Table.Td>{w.health?.version ?? '–'}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              )}
            </Card>
          ))}
        </>
      )}
    </Stack>
  );
}
