// System settings for admins: provider keys (write-only: saved, then shown only as set) and other settings as JSON values.
import { Alert, Badge, Button, Card, Group, JsonInput, Loader, PasswordInput, SimpleGrid, Stack, Table, Text, TextInput } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { api, ApiError, type components } from '../../api/client';
import { messageOf, useLoad } from '../../lib/load';
import { Failed } from '../Failed';

type SettingView = components['schemas']['SettingView'];
const PROVIDER_KEYS = [
  ['secrets.openai_api_key', 'OpenAI'],
  ['secrets.anthropic_api_key', 'Anthropic'],
  ['secrets.groq_api_key', 'Groq'],
  ['secrets.deepgram_api_key', 'Deepgram'],
  ['secrets.elevenlabs_api_key', 'ElevenLabs'],
  ['secrets.cartesia_api_key', 'Cartesia'],
] as const;

function ProviderKey({ settingKey, label, isSet, onSaved }: { settingKey: string; label: string; isSet: boolean; onSaved: () => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string | undefined>();
  async function save() {
    setError(undefined);
    if (!value.trim()) return setError('Paste the key first.');
    try {
      await api.send('PUT', `/api/v1/settings/${settingKey}`, { value });
      setValue('');
      onSaved();
    } catch (e) {
      setError(messageOf(e));
    }
  }
  return (
    <Group align="end" wrap="nowrap">
      <PasswordInput
        label={`${label} API key`}
        placeholder={isSet ? 'set; paste a new key to replace it' : 'not set'}
        value={value}
        onChange={(e) => setValue(e.currentTarget.value)}
        error={error}
        style={{ flex: 1 }}
        autoComplete="off"
      />
      {isSet && (
        <Badge color="green" mb={8}>
          set
        </Badge>
      )}
      <Button variant="light" onClick={save}>
        Save
      </Button>
    </Group>
  );
}

export function System() {
  const { data: settings, error: loadError, reload: load } = useLoad(() => api.send<SettingView[]>('GET', '/api/v1/settings'), []);
  const [error, setError] = useState<string | null>(null);
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});

  async function save(event: FormEvent) {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!/^[a-z0-9._-]{1,128}$/.test(key)) found.key = "1-128 characters of a-z, 0-9, '.', '_', '-'.";
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      found.value = 'A JSON value: "text", 42, true, {"a": 1}.';
    }
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    try {
      await api.send('PUT', `/api/v1/settings/${key}`, { value: parsed });
      setKey('');
      setValue('');
      await load();
    } catch (e) {
      if (e instanceof ApiError && e.field) setErrors({ [e.field]: e.message });
      else setErrors({ form: messageOf(e) });
    }
  }

  async function remove(k: string) {
    try {
      await api.send('DELETE', `/api/v1/settings/${k}`);
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  if (loadError) return <Failed title="The settings could not be loaded" message={loadError} onRetry={load} />;
  if (!settings) return <Loader size="sm" />;
  const isSet = new Set(settings.filter((s) => s.secret).map((s) => s.key));
  const plain = settings.filter((s) => !s.secret);
  return (
    <Stack>
      <Card withBorder>
        <Text fw={600}>Provider keys</Text>
        <Text size="sm" c="dimmed" mb="xs">
          Write-only: a saved key is never shown again.
        </Text>
        <SimpleGrid cols={{ base: 1, md: 2 }}>
          {PROVIDER_KEYS.map(([k, label]) => (
            <ProviderKey key={k} settingKey={k} label={label} isSet={isSet.has(k)} onSaved={load} />
          ))}
        </SimpleGrid>
      </Card>
      <Card withBorder>
        <Text fw={600} mb="xs">
          Settings
        </Text>
        {error && <Alert color="red">{error}</Alert>}
        {plain.length === 0 && <Text c="dimmed">No settings yet.</Text>}
        {plain.length > 0 && (
          <Table>
            <Table.Tbody>
              {plain.map((s) => (
                <Table.Tr key={s.key}>
                  <Table.Td>{s.key}</Table.Td>
                  <Table.Td>
                    <code>{JSON.stringify(s.value)}</code>
                  </Table.Td>
                  <Table.Td>{new Date(s.updated_at).toLocaleString()}</Table.Td>
                  <Table.Td>
                    <Button size="xs" variant="subtle" color="red" onClick={() => remove(s.key)}>
                      Remove
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        <form onSubmit={save}>
          {errors.form && <Alert color="red">{errors.form}</Alert>}
          <Group align="start" mt="sm">
            <TextInput label="Setting key" placeholder="calls.retention_days" value={key} onChange={(e) => setKey(e.currentTarget.value)} error={errors.key} />
            <JsonInput label="Value (JSON)" placeholder="90" value={value} onChange={setValue} error={errors.value} autosize minRows={1} style={{ flex: 1 }} />
            <Button type="submit" mt={25}>
              Save setting
            </Button>
          </Group>
        </form>
      </Card>
    </Stack>
  );
}
