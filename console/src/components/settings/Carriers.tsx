// Carrier accounts and the numbers each owns: the webhook URLs to give the carrier, a SIP trunk's settings, the secret write-only.
import { Alert, Button, Card, Checkbox, Code, Group, Loader, PasswordInput, Select, Stack, Table, Text, TextInput, Textarea } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { api, ApiError, type components } from '../../api/client';
import { messageOf, useLoad } from '../../lib/load';

type AccountView = components['schemas']['AccountView'];
type SipTrunk = components['schemas']['SipTrunk'];

const CARRIERS = [
  { value: 'twilio', label: 'Twilio' },
  { value: 'telnyx', label: 'Telnyx' },
  { value: 'plivo', label: 'Plivo' },
  { value: 'vonage', label: 'Vonage' },
  { value: 'exotel', label: 'Exotel' },
  { value: 'sip', label: 'SIP trunk (vox sip)' },
];

type Draft = {
  id: number | null;
  carrier: string;
  name: string;
  accountSid: string;
  secret: string;
  webhookKey: string;
  numbers: string;
  apiUrl: string;
  // A SIP trunk's settings.
  username: string;
  register: boolean;
  authenticateCallers: boolean;
  outboundProxy: string;
  transport: 'udp' | 'tcp';
};

const blank = (): Draft => ({
  id: null,
  carrier: 'twilio',
  name: '',
  accountSid: '',
  secret: '',
  webhookKey: '',
  numbers: '',
  apiUrl: '',
  username: '',
  register: false,
  authenticateCallers: false,
  outboundProxy: '',
  transport: 'udp',
});

/// A SIP trunk's `host[:port]`, as the Backend checks it.
const SIP_HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?$/;

/// What each carrier calls the account id and the secret.
const LABELS: Record<string, { sid: string; sidHint: string; secret: string }> = {
  twilio: { sid: 'Account SID', sidHint: 'AC…', secret: 'Auth token' },
  telnyx: { sid: 'Connection ID', sidHint: 'Call Control application id (digits)', secret: 'API key' },
  plivo: { sid: 'Auth ID', sidHint: 'MA… (or a subaccount SA…)', secret: 'Auth token' },
  vonage: { sid: 'Application ID', sidHint: 'the application UUID', secret: 'Private key (PEM)' },
  exotel: { sid: 'Account SID / flow app id', sidHint: 'SID/APP_ID (the flow with the Voicebot applet)', secret: 'API key:API token' },
  sip: { sid: 'Trunk address', sidHint: 'sip.example.com:5060 (its registrar, or where its calls go)', secret: 'Password' },
};

/// Where a field the Backend named is shown: every `numbers[i]` under the numbers box.
function fieldOf(field: string): string {
  return field.startsWith('numbers') ? 'numbers' : field;
}

/// The form's checks before sending; the Backend checks them again.
function check(draft: Draft): Record<string, string> {
  const found: Record<string, string> = {};
  if (!draft.name.trim()) found.name = 'Name the account (e.g. "Twilio production").';
  if (draft.carrier === 'telnyx') {
    if (!/^[0-9]{1,32}$/.test(draft.accountSid.trim())) found.account_sid = "Telnyx connection ids are the Call Control application's digits.";
    if (draft.id === null && !draft.secret) found.secret = 'The API key is needed to place and control calls.';
    if ((draft.id === null || draft.webhookKey) && !/^[A-Za-z0-9+/]{43}=$/.test(draft.webhookKey.trim())) found.webhook_key = 'The public key from Keys & Credentials: 44 characters of base64.';
  } else if (draft.carrier === 'vonage') {
    if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(draft.accountSid.trim()))
      found.account_sid = 'Vonage application ids are UUIDs (Applications in the dashboard).';
    if (draft.id === null && !draft.secret) found.secret = "The application's private key signs every request to Vonage.";
    if (draft.secret && !/^\s*-----BEGIN (RSA )?PRIVATE KEY-----/.test(draft.secret)) found.secret = 'Paste the whole private.key file, from -----BEGIN PRIVATE KEY-----.';
    if (draft.id === null && !draft.webhookKey.trim()) found.webhook_key = 'The signature secret (API settings) verifies Vonage webhooks.';
  } else if (draft.carrier === 'exotel') {
    if (!/^[A-Za-z0-9_-]{1,64}\/[0-9]{1,20}$/.test(draft.accountSid.trim())) found.account_sid = "The Account SID and the Voicebot flow's app id (App Bazaar), as SID/APP_ID.";
    if (draft.id === null && !draft.secret) found.secret = 'The API key and token (API settings), as KEY:TOKEN.';
    if (draft.secret && !/^[^:]+:[^:]+$/.test(draft.secret)) found.secret = 'The API key and token, joined by a colon: KEY:TOKEN.';
  } else if (draft.carrier === 'sip') {
    if (!SIP_HOST.test(draft.accountSid.trim())) found.account_sid = 'The trunk address is host[:port], e.g. sip.example.com or 203.0.113.5:5060.';
    if (draft.id === null && !draft.secret) found.secret = 'The digest password (any placeholder for a trunk that checks your IP address).';
    if (draft.register && !draft.username.trim()) found['trunk.username'] = 'Registering needs the username the trunk gave you.';
    else if (draft.authenticateCallers && !draft.username.trim()) found['trunk.username'] = 'Challenging callers needs the username they authenticate as.';
    if (draft.outboundProxy.trim() && !SIP_HOST.test(draft.outboundProxy.trim())) found['trunk.outbound_proxy'] = 'host[:port], like the trunk address.';
  } else if (draft.carrier === 'plivo') {
    if (!/^[MS]A[A-Z0-9]{18}$/.test(draft.accountSid.trim())) found.account_sid = 'Plivo Auth IDs are MA (or SA) and 18 capital letters or digits.';
    if (draft.id === null && !draft.secret) found.secret = 'The Auth Token is needed to place calls and check webhooks.';
  } else {
    if (!/^AC[0-9a-fA-F]{32}$/.test(draft.accountSid.trim())) found.account_sid = 'Twilio Account SIDs are AC and 32 hex digits.';
    if (draft.id === null && !draft.secret) found.secret = 'The Auth Token is needed to place calls and check webhooks.';
  }
  const numbers = draft.numbers
    .split('\n')
    .map((n) => n.trim())
    .filter(Boolean);
  const bad = numbers.findIndex((n) => !/^\+[1-9]\d{6,14}$/.test(n.replace(/[\s()-]/g, '')));
  if (bad >= 0) found.numbers = `Line ${bad + 1}: an E.164 number, e.g. +14155550100.`;
  if (draft.apiUrl && !/^https?:\/\/.+/.test(draft.apiUrl.trim())) found.api_url = 'http(s)://host:port, or leave empty for the carrier itself.';
  return found;
}

export function CarrierAccounts({ canEdit }: { canEdit: boolean }) {
  const { data: accounts, error: loadError, reload } = useLoad(() => api.send<AccountView[]>('GET', '/api/v1/carrier-accounts'), []);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState<string | null>(null);
  const set = (change: Partial<Draft>) => setDraft((d) => (d ? { ...d, ...change } : d));

  function edit(account: AccountView) {
    setSaved(null);
    setErrors({});
    setDraft({
      id: account.id,
      carrier: account.carrier,
      name: account.name,
      accountSid: account.account_sid,
      secret: '',
      webhookKey: '',
      numbers: account.numbers.join('\n'),
      apiUrl: account.api_url ?? '',
      username: account.trunk?.username ?? '',
      register: account.trunk?.register ?? false,
      authenticateCallers: account.trunk?.authenticate_callers ?? false,
      outboundProxy: account.trunk?.outbound_proxy ?? '',
      transport: account.trunk?.transport ?? 'udp',
    });
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    if (!draft) return;
    const found = check(draft);
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    const trunk: SipTrunk = {
      username: draft.username.trim() || null,
      register: draft.register,
      authenticate_callers: draft.authenticateCallers,
      outbound_proxy: draft.outboundProxy.trim() || null,
      transport: draft.transport,
    };
    const body = {
      carrier: draft.carrier,
      name: draft.name.trim(),
      account_sid: draft.accountSid.trim(),
      numbers: draft.numbers
        .split('\n')
        .map((n) => n.replace(/[\s()-]/g, ''))
        .filter(Boolean),
      api_url: draft.apiUrl.trim() || null,
      ...(draft.carrier === 'sip' ? { trunk } : {}),
      ...(draft.secret ? { secret: draft.secret } : {}),
      ...(draft.webhookKey.trim() ? { webhook_key: draft.webhookKey.trim() } : {}),
    };
    try {
      const view = draft.id === null ? await api.send<AccountView>('POST', '/api/v1/carrier-accounts', body) : await api.send<AccountView>('PUT', `/api/v1/carrier-accounts/${draft.id}`, body);
      setDraft(null);
      setSaved(`Saved ${view.name}.`);
      await reload();
    } catch (e) {
      if (e instanceof ApiError && e.field) setErrors({ [fieldOf(e.field)]: e.message });
      else setErrors({ form: messageOf(e) });
    }
  }

  return (
    <Card withBorder>
      <Stack gap="xs">
        <Text fw={600}>Carrier accounts</Text>
        <Text size="sm" c="dimmed">
          Calls reach real phones through these accounts. Set each number's voice URL at the carrier to the account's voice URL; the URLs are built from VOX_PUBLIC_URL.
        </Text>
        {loadError && <Alert color="red">{loadError}</Alert>}
        {saved && <Alert color="green">{saved}</Alert>}
        {!accounts && !loadError && <Loader size="sm" />}
        {accounts && accounts.length === 0 && <Text c="dimmed">No carrier account yet: calls go through the PSTN simulator.</Text>}
        {accounts && accounts.length > 0 && (
          <Table data-testid="carrier-accounts">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Carrier</Table.Th>
                <Table.Th>Numbers</Table.Th>
                <Table.Th>Webhook URLs</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {accounts.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td>
                    {a.name}
                    <Text size="xs" c="dimmed">
                      {a.account_sid}
                      {a.api_url && a.carrier !== 'sip' ? ` · API ${a.api_url}` : ''}
                      {a.trunk
                        ? ` · ${a.trunk.transport.toUpperCase()}${a.trunk.register ? ` · registers as ${a.trunk.username}` : a.trunk.username ? ` · user ${a.trunk.username}` : ''}${a.trunk.outbound_proxy ? ` · via ${a.trunk.outbound_proxy}` : ''}${a.trunk.authenticate_callers ? ' · challenges callers' : ''}`
                        : ''}
                      {a.carrier === 'sip' && a.api_url ? ` · vox sip control ${a.api_url}` : ''}
                    </Text>
                  </Table.Td>
                  <Table.Td>{CARRIERS.find((c) => c.value === a.carrier)?.label ?? a.carrier}</Table.Td>
                  <Table.Td>{a.numbers.length === 0 ? <Text c="dimmed">none</Text> : a.numbers.map((n) => <div key={n}>{n}</div>)}</Table.Td>
                  <Table.Td>
                    {a.inbound_voice_url ? (
                      <Stack gap={2}>
                        <Text size="xs">
                          Voice: <Code>{a.inbound_voice_url}</Code>
                        </Text>
                        {a.inbound_status_url && (
                          <Text size="xs">
                            Status: <Code>{a.inbound_status_url}</Code>
                          </Text>
                        )}
                        {a.greeting_url && (
                          <Text size="xs">
                            Greeting: <Code>{a.greeting_url}</Code>
                          </Text>
                        )}
                      </Stack>
                    ) : (
                      <Text size="xs" c="orange">
                        {a.carrier === 'sip'
                          ? 'Its calls reach vox sip, which asks the Backend where each goes.'
                          : a.carrier === 'exotel'
                            ? "Shown to admins once VOX_PUBLIC_URL is set (Exotel's URLs carry the account's key)."
                            : 'Set VOX_PUBLIC_URL so the carrier can reach vox.'}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    {canEdit && (
                      <Button size="xs" variant="subtle" onClick={() => edit(a)}>
                        Edit
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        {canEdit && !draft && (
          <Button
            w="fit-content"
            variant="light"
            onClick={() => {
              setSaved(null);
              setErrors({});
              setDraft(blank());
            }}
          >
            Add a carrier account
          </Button>
        )}
        {canEdit && draft && (
          <form onSubmit={save}>
            <Stack gap="xs">
              {errors.form && <Alert color="red">{errors.form}</Alert>}
              {errors.carrier && <Alert color="red">carrier: {errors.carrier}</Alert>}
              <Group grow align="start">
                <Select label="Carrier" data={CARRIERS} value={draft.carrier} onChange={(v) => set({ carrier: v ?? 'twilio' })} disabled={draft.id !== null} />
                <TextInput label="Account name" value={draft.name} onChange={(e) => set({ name: e.currentTarget.value })} error={errors.name} />
              </Group>
              <Group grow align="start">
                <TextInput
                  label={(LABELS[draft.carrier] ?? LABELS.twilio).sid}
                  placeholder={(LABELS[draft.carrier] ?? LABELS.twilio).sidHint}
                  value={draft.accountSid}
                  onChange={(e) => set({ accountSid: e.currentTarget.value })}
                  error={errors.account_sid}
                />
                {draft.carrier === 'vonage' ? (
                  <Textarea
                    label={LABELS.vonage.secret}
                    description={draft.id === null ? 'Write-only: never shown again' : 'Leave empty to keep the saved one'}
                    value={draft.secret}
                    onChange={(e) => set({ secret: e.currentTarget.value })}
                    error={errors.secret}
                    autosize
                    minRows={2}
                    maxRows={6}
                  />
                ) : (
                  <PasswordInput
                    label={(LABELS[draft.carrier] ?? LABELS.twilio).secret}
                    description={draft.id === null ? 'Write-only: never shown again' : 'Leave empty to keep the saved one'}
                    value={draft.secret}
                    onChange={(e) => set({ secret: e.currentTarget.value })}
                    error={errors.secret}
                  />
                )}
              </Group>
              {draft.carrier === 'vonage' && (
                <PasswordInput
                  label="Signature secret"
                  description={draft.id === null ? "Verifies Vonage's signed webhooks (API settings); never shown again" : 'Leave empty to keep the saved one'}
                  value={draft.webhookKey}
                  onChange={(e) => set({ webhookKey: e.currentTarget.value })}
                  error={errors.webhook_key}
                />
              )}
              {draft.carrier === 'telnyx' && (
                <TextInput
                  label="Public key"
                  description={draft.id === null ? "Verifies Telnyx's webhook signatures (Keys & Credentials); never shown again" : 'Leave empty to keep the saved one'}
                  value={draft.webhookKey}
                  onChange={(e) => set({ webhookKey: e.currentTarget.value })}
                  error={errors.webhook_key}
                />
              )}
              <Textarea
                label="Numbers"
                description="The numbers this account owns, one per line: caller IDs and inbound numbers"
                value={draft.numbers}
                onChange={(e) => set({ numbers: e.currentTarget.value })}
                error={errors.numbers}
                autosize
                minRows={2}
              />
              {draft.carrier === 'sip' ? (
                <>
                  <Group grow align="start">
                    <TextInput
                      label="Username"
                      description="The digest username the trunk challenges for; empty if it checks your IP address"
                      value={draft.username}
                      onChange={(e) => set({ username: e.currentTarget.value })}
                      error={errors['trunk.username']}
                    />
                    <TextInput
                      label="Outbound proxy"
                      description="host[:port] every request goes through first; usually empty"
                      value={draft.outboundProxy}
                      onChange={(e) => set({ outboundProxy: e.currentTarget.value })}
                      error={errors['trunk.outbound_proxy']}
                    />
                    <Select
                      label="Transport"
                      data={[
                        { value: 'udp', label: 'UDP' },
                        { value: 'tcp', label: 'TCP' },
                      ]}
                      value={draft.transport}
                      onChange={(v) => set({ transport: v === 'tcp' ? 'tcp' : 'udp' })}
                    />
                  </Group>
                  <Checkbox
                    label="Register with the trunk (it sends inbound calls to wherever vox sip registered)"
                    checked={draft.register}
                    onChange={(e) => set({ register: e.currentTarget.checked })}
                  />
                  <Checkbox
                    label="Challenge its calls (a PBX that authenticates to vox with the username and password)"
                    checked={draft.authenticateCallers}
                    onChange={(e) => set({ authenticateCallers: e.currentTarget.checked })}
                  />
                  <TextInput
                    label="vox sip call control"
                    description="Where the dialler reaches this trunk's vox sip to place calls (VOX_SIP_CONTROL_LISTEN); empty is http://127.0.0.1:8093"
                    value={draft.apiUrl}
                    onChange={(e) => set({ apiUrl: e.currentTarget.value })}
                    error={errors.api_url}
                  />
                </>
              ) : (
                <TextInput
                  label="API URL"
                  description="Only for an emulator; empty is the carrier's own API"
                  value={draft.apiUrl}
                  onChange={(e) => set({ apiUrl: e.currentTarget.value })}
                  error={errors.api_url}
                />
              )}
              <Group>
                <Button type="submit">{draft.id === null ? 'Save account' : 'Save changes'}</Button>
                <Button variant="subtle" onClick={() => setDraft(null)}>
                  Cancel
                </Button>
              </Group>
            </Stack>
          </form>
        )}
      </Stack>
    </Card>
  );
}
