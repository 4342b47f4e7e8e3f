// Settings, one tab per area: API keys, the do-not-call list, users and roles, system settings and provider keys, carrier accounts and their numbers, fleets and inbound numbers, the audit log (admin-only tabs hidden from others).
import { Stack, Tabs, Title } from '@mantine/core';
import { api } from '../api/client';
import { ApiKeys } from '../components/settings/ApiKeys';
import { Audit } from '../components/settings/Audit';
import { CarrierAccounts } from '../components/settings/Carriers';
import { Dnc } from '../components/settings/Dnc';
import { Fleets, InboundNumbers } from '../components/settings/Routing';
import { System } from '../components/settings/System';
import { Users } from '../components/settings/Users';

export function Settings({ role }: { role: string }) {
  const admin = role === 'admin';
  return (
    <Stack>
      <Title order={2}>Settings</Title>
      <Tabs defaultValue={admin ? 'keys' : 'dnc'} keepMounted={false}>
        <Tabs.List>
          {admin && <Tabs.Tab value="keys">API keys</Tabs.Tab>}
          <Tabs.Tab value="dnc">Do not call</Tabs.Tab>
          {admin && <Tabs.Tab value="users">Users</Tabs.Tab>}
          {admin && <Tabs.Tab value="system">System and provider keys</Tabs.Tab>}
          <Tabs.Tab value="carriers">Carriers</Tabs.Tab>
          <Tabs.Tab value="routing">Fleets and routing</Tabs.Tab>
          {admin && <Tabs.Tab value="audit">Audit log</Tabs.Tab>}
        </Tabs.List>
        {admin && (
          <Tabs.Panel value="keys" pt="sm">
            <ApiKeys />
          </Tabs.Panel>
        )}
        <Tabs.Panel value="dnc" pt="sm">
          <Dnc canEdit={role !== 'viewer'} />
        </Tabs.Panel>
        {admin && (
          <Tabs.Panel value="users" pt="sm">
            <Users me={api.session?.user.email ?? ''} />
          </Tabs.Panel>
        )}
        {admin && (
          <Tabs.Panel value="system" pt="sm">
            <System />
          </Tabs.Panel>
        )}
        <Tabs.Panel value="carriers" pt="sm">
          <CarrierAccounts canEdit={admin} />
        </Tabs.Panel>
        <Tabs.Panel value="routing" pt="sm">
          <Stack>
            <Fleets canEdit={admin} />
            <InboundNumbers canEdit={role !== 'viewer'} />
          </Stack>
        </Tabs.Panel>
        {admin && (
          <Tabs.Panel value="audit" pt="sm">
            <Audit />
          </Tabs.Panel>
        )}
      </Tabs>
    </Stack>
  );
}
