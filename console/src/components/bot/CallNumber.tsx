// "Call a number": one outbound call now through a carrier account (POST /api/v1/calls), with the bot's variables.
import { Alert, Anchor, Button, Card, Group, Select, Stack, Switch, Text, TextInput } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { Link } from 'react-router-dom';
import { api, ApiError, type components } from '../../api/client';
import { messageOf, useLoad } from '../../lib/load';

type AccountView = components['schemas']['AccountView'];
type Dialled = components['schemas']['Dialled'];

export function CallNumber({ botId, variables, canCall }: { botId: number; variables: string[]; canCall: boolean }) {
  // SIP trunks answer inbound calls through vox sip; calling out through one is not built yet.
  const { data: accounts, error: loadError } = useLoad(async () => await api.send<AccountView[]>('GET', '/api/v1/carrier-accounts'), []);
  const [to, setTo] = useState('');
  const [accountId, setAccountId] = useState<string | null>(null);
  const [from, setFrom] = useState<string | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const [detect, setDetect] = useState(true);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [placed, setPlaced] = useState<Dialled | null>(null);
  const account = accounts?.find((a) => String(a.id) === accountId) ?? (accounts?.length === 1 ? accounts[0] : undefined);

  async function call(event: FormEvent) {
    event.preventDefault();
    setPlaced(null);
    const found: Record<string, string> = {};
    if (!/^\+?[\d\s()-]{7,20}$/.test(to.trim())) found.to = 'A number in E.164, e.g. +14155550100.';
    if (!account) found.carrier_account = 'Pick the carrier account that places the call.';
    setErrors(found);
    if (Object.keys(found).length > 0 || !account) return;
    const given = Object.fromEntries(Object.entries(values).filter(([name, value]) => variables.includes(name) && value !== ''));
    setBusy(true);
    try {
      const body = { bot_id: botId, to: to.replace(/[\s().-]/g, ''), carrier_account: account.id, detect_machine: detect, variables: given, ...(from ? { from } : {}) };
      setPlaced(await api.send<Dialled>('POST', '/api/v1/calls', body));
    } catch (e) {
      if (e instanceof ApiError && e.field) setErrors({ [e.field]: e.message });
      else setErrors({ form: messageOf(e) });
    } finally {
      setBusy(false);
    }
  }

  const other = Object.entries(errors).filter(([field]) => !['to', 'carrier_account', 'from', 'form'].includes(field) && !field.startsWith('variables.'));
  return (
    <Card withBorder>
      <form onSubmit={call}>
        <Stack gap="xs">
          <Text fw={600}>Call a number</Text>
          {loadError && <Alert color="red">{loadError}</Alert>}
          {accounts && accounts.length === 0 && <Text c="dimmed">Add a carrier account under Settings → Carriers to call real phones.</Text>}
          {errors.form && <Alert color="red">{errors.form}</Alert>}
          {other.map(([field, message]) => (
            <Alert key={field} color="red">
              <b>{field}</b>: {message}
            </Alert>
          ))}
          {placed && (
            <Alert color="green" data-testid="call-placed">
              Dialling: call{' '}
              <Anchor component={Link} to={`/calls/${placed.call_id}`}>
                #{String(placed.call_id)}
              </Anchor>{' '}
              ({placed.carrier_call_id}).
            </Alert>
          )}
          <Group align="start" grow>
            <TextInput label="Number to call" placeholder="+14155550100" value={to} onChange={(e) => setTo(e.currentTarget.value)} error={errors.to} disabled={!canCall} />
            <Select
              label="Carrier account"
              data={(accounts ?? []).map((a) => ({ value: String(a.id), label: `${a.name} (${a.carrier})` }))}
              value={account ? String(account.id) : null}
              onChange={(v) => {
                setAccountId(v);
                setFrom(null);
              }}
              error={errors.carrier_account}
              disabled={!canCall}
            />
            <Select
              label="Caller ID"
              placeholder={account?.numbers[0] ?? 'the account’s first number'}
              data={account?.numbers ?? []}
              value={from}
              onChange={setFrom}
              error={errors.from}
              clearable
              disabled={!canCall}
            />
          </Group>
          {variables.length > 0 && (
            <Group align="start" grow>
              {variables.map((name) => (
                <TextInput
                  key={name}
                  label={`{{${name}}}`}
                  value={values[name] ?? ''}
                  onChange={(e) => {
                    const value = e.currentTarget.value;
                    setValues((old) => ({ ...old, [name]: value }));
                  }}
                  error={errors[`variables.${name}`]}
                  disabled={!canCall}
                />
              ))}
            </Group>
          )}
          <Switch label="Detect answering machines (the carrier charges for it)" checked={detect} onChange={(e) => setDetect(e.currentTarget.checked)} disabled={!canCall} />
          <Button type="submit" w="fit-content" loading={busy} disabled={!canCall || !accounts || accounts.length === 0}>
            Call
          </Button>
        </Stack>
      </form>
    </Card>
  );
}
