// Bots: the list (loading, error with a retry, empty), and a form to create one whose refusals are shown at the field the Backend names.
import { Alert, Button, Card, Group, Loader, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Failed } from '../components/Failed';
import { api, ApiError, type BotView } from '../api/client';

type Load = { state: 'loading' } | { state: 'failed'; message: string } | { state: 'ready'; bots: BotView[] };

export function Bots({ role }: { role: string }) {
  const [load, setLoad] = useState<Load>({ state: 'loading' });
  const refresh = useCallback(async () => {
    setLoad({ state: 'loading' });
    try {
      const page = await api.send<{ items: BotView[] }>('GET', '/api/v1/bots');
      setLoad({ state: 'ready', bots: page.items });
    } catch (e) {
      setLoad({ state: 'failed', message: e instanceof Error ? e.message : String(e) });
    }
  }, []);
  useEffect(() => {
    void refresh();
  }, [refresh]);

  return (
    <Stack>
      <Title order={2}>Bots</Title>
      {role !== 'viewer' && <NewBot onCreated={refresh} />}
      {load.state === 'loading' && <Loader />}
      {load.state === 'failed' && (
        <Failed title="The bots could not be loaded" message={load.message} onRetry={refresh} />
      )}
      {load.state === 'ready' && load.bots.length === 0 && <Text c="dimmed">No bots yet.</Text>}
      {load.state === 'ready' && load.bots.length > 0 && (
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Version</Table.Th>
              <Table.Th>Language</Table.Th>
              <Table.Th>Updated</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {load.bots.map((bot) => (
              <Table.Tr key={bot.id}>
                <Table.Td>{bot.name}</Table.Td>
                <Table.Td>{bot.version}</Table.Td>
                <Table.Td>{bot.spec.language}</Table.Td>
                <Table.Td>{new Date(bot.updated_at).toLocaleString()}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

function NewBot({ onCreated }: { onCreated: () => void }) {
  const [name, setName] = useState('');
  const [prompt, setPrompt] = useState('');
  const [firstMessage, setFirstMessage] = useState('');
  const [variables, setVariables] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const missing: Record<string, string> = {};
    if (!name.trim()) missing.name = 'Give the bot a name.';
    if (!prompt.trim()) missing['spec.system_prompt'] = 'Say what the bot does.';
    setErrors(missing);
    if (Object.keys(missing).length > 0) return;
    setBusy(true);
    try {
      await api.send('POST', '/api/v1/bots', {
        name,
        spec: {
          language: 'en-US',
          system_prompt: prompt,
          first_message: firstMessage || undefined,
          variables: variables
            .split(',')
            .map((v) => v.trim())
            .filter(Boolean),
          stt: { provider: 'whisper' },
          llm: { provider: 'openai' },
          tts: { provider: 'espeak' },
        },
      });
      setName('');
      setPrompt('');
      setFirstMessage('');
      setVariables('');
      onCreated();
    } catch (e) {
      if (e instanceof ApiError && e.field) setErrors({ [e.field]: e.message });
      else setErrors({ form: e instanceof Error ? e.message : String(e) });
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card withBorder>
      <form onSubmit={submit}>
        <Stack gap="xs">
          <Text fw={600}>New bot</Text>
          {errors.form && <Alert color="red">{errors.form}</Alert>}
          <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={errors.name} />
          <Textarea
            label="Prompt"
            description="What the bot does; {{variables}} come from each contact"
            value={prompt}
            onChange={(e) => setPrompt(e.currentTarget.value)}
            error={errors['spec.system_prompt']}
            autosize
            minRows={3}
          />
          <TextInput
            label="Variables"
            description="Comma-separated, e.g. name, appointment_time"
            value={variables}
            onChange={(e) => setVariables(e.currentTarget.value)}
            error={errors['spec.variables']}
          />
          <TextInput
            label="First message"
            value={firstMessage}
            onChange={(e) => setFirstMessage(e.currentTarget.value)}
            error={errors['spec.first_message']}
          />
          <Group>
            <Button type="submit" loading={busy}>
              Create bot
            </Button>
          </Group>
        </Stack>
      </form>
    </Card>
  );
}
