// The bot builder: one page to create or edit a bot (basics, speech providers, tools, analysis and quality rules, limits and voicemail, the flow editor), its version history, a test call and a call to a number.
import { Alert, Anchor, Button, Card, Group, Loader, Stack, Tabs, Text, TextInput, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, ApiError, type BotView } from '../api/client';
import { AnalysisSection } from '../components/bot/AnalysisSection';
import { BasicsSection } from '../components/bot/BasicsSection';
import { CallNumber } from '../components/bot/CallNumber';
import type { Errors } from '../components/bot/edit';
import { FlowEditor } from '../components/bot/FlowEditor';
import { TestCall } from '../components/bot/TestCall';
import { ToolsSection } from '../components/bot/ToolsSection';
import { Versions } from '../components/bot/Versions';
import { WidgetCard } from '../components/bot/Widget';
import { TurnSection } from '../components/bot/TurnSection';
import { CallSection, VoiceSection } from '../components/bot/VoiceSection';
import { Failed } from '../components/Failed';
import { blankSpec, checkSpec, type BotSpec } from '../lib/spec';
import { messageOf } from '../lib/load';

/// Which tab holds a field the Backend named.
function tabOf(field: string): string {
  if (/^spec\.(stt|llm|tts)/.test(field)) return 'voice';
  if (field.startsWith('spec.tools')) return 'tools';
  if (/^spec\.(analysis|qc_rules)/.test(field)) return 'analysis';
  if (/^spec\.(limits|voicemail)/.test(field)) return 'call';
  if (field.startsWith('spec.flow')) return 'flow';
  if (/^spec\.(turn|idle|interruptions|ivr)/.test(field)) return 'turn';
  return 'basics';
}

export function Bot({ role }: { role: string }) {
  const { id } = useParams();
  const isNew = id === 'new';
  const navigate = useNavigate();
  const [bot, setBot] = useState<BotView | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [spec, setSpec] = useState<BotSpec>(blankSpec());
  const [errors, setErrors] = useState<Errors>({});
  const [tab, setTab] = useState<string | null>('basics');
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const readOnly = role === 'viewer';

  const load = useCallback(async () => {
    if (isNew) return;
    setLoadError(null);
    try {
      const view = await api.send<BotView>('GET', `/api/v1/bots/${id}`);
      setBot(view);
      setName(view.name);
      setSpec({ ...blankSpec(), ...view.spec });
    } catch (e) {
      setLoadError(messageOf(e));
    }
  }, [id, isNew]);
  useEffect(() => {
    void load();
  }, [load]);

  async function save(nextSpec: BotSpec, nextName: string) {
    const found = checkSpec(nextName, nextSpec);
    setErrors(found);
    setSaved(null);
    const first = Object.keys(found)[0];
    if (first) {
      setTab(tabOf(first));
      return;
    }
    setBusy(true);
    try {
      const body = { name: nextName, spec: nextSpec };
      const view = isNew ? await api.send<BotView>('POST', '/api/v1/bots', body) : await api.send<BotView>('PUT', `/api/v1/bots/${id}`, body);
      setBot(view);
      setSpec({ ...blankSpec(), ...view.spec });
      setSaved(`Saved as version ${view.version}.`);
      if (isNew) navigate(`/bots/${view.id}`, { replace: true });
    } catch (e) {
      if (e instanceof ApiError && e.field) {
        setErrors({ [e.field]: e.message });
        setTab(tabOf(e.field));
      } else setErrors({ form: messageOf(e) });
    } finally {
      setBusy(false);
    }
  }

  if (loadError) return <Failed title="The bot could not be loaded" message={loadError} onRetry={load} />;
  if (!isNew && !bot) return <Loader />;
  const section = { spec, change: (f: (s: BotSpec) => BotSpec) => setSpec(f), errors, readOnly };
  // A field error the tabs have no input for still shows, with its field.
  const shown = new Set(['name', 'form']);
  const other = Object.entries(errors).filter(([field]) => !shown.has(field));
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{isNew ? 'New bot' : bot?.name}</Title>
        <Anchor component={Link} to="/bots">
          All bots
        </Anchor>
      </Group>
      {!isNew && bot && (
        <Text c="dimmed" size="sm">
          Version {bot.version}, saved {new Date(bot.updated_at).toLocaleString()}
        </Text>
      )}
      <Card withBorder>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void save(spec, name);
          }}
        >
          <Stack>
            {errors.form && <Alert color="red">{errors.form}</Alert>}
            {other.length > 0 && (
              <Alert color="red" title="Fix these before saving" data-testid="spec-errors">
                {other.map(([field, message]) => (
                  <div key={field}>
                    <b>{field}</b>: {message}
                  </div>
                ))}
              </Alert>
            )}
            {saved && <Alert color="green">{saved}</Alert>}
            <TextInput label="Name" value={name} readOnly={readOnly} onChange={(e) => setName(e.currentTarget.value)} error={errors.name} />
            <Tabs value={tab} onChange={setTab} keepMounted={false}>
              <Tabs.List>
                <Tabs.Tab value="basics">Basics</Tabs.Tab>
                <Tabs.Tab value="voice">Voice and models</Tabs.Tab>
                <Tabs.Tab value="turn">Turn-taking</Tabs.Tab>
                <Tabs.Tab value="tools">Tools</Tabs.Tab>
                <Tabs.Tab value="analysis">Analysis and quality</Tabs.Tab>
                <Tabs.Tab value="call">Limits and voicemail</Tabs.Tab>
                <Tabs.Tab value="flow">Flow</Tabs.Tab>
              </Tabs.List>
              <Tabs.Panel value="basics" pt="sm">
                <BasicsSection {...section} />
              </Tabs.Panel>
              <Tabs.Panel value="voice" pt="sm">
                <VoiceSection {...section} />
              </Tabs.Panel>
              <Tabs.Panel value="turn" pt="sm">
                <TurnSection {...section} />
              </Tabs.Panel>
              <Tabs.Panel value="tools" pt="sm">
                <ToolsSection {...section} />
              </Tabs.Panel>
              <Tabs.Panel value="analysis" pt="sm">
                <AnalysisSection {...section} />
              </Tabs.Panel>
              <Tabs.Panel value="call" pt="sm">
                <CallSection {...section} />
              </Tabs.Panel>
              <Tabs.Panel value="flow" pt="sm">
                <FlowEditor {...section} />
              </Tabs.Panel>
            </Tabs>
            {!readOnly && (
              <Group>
                <Button type="submit" loading={busy}>
                  {isNew ? 'Create bot' : 'Save a new version'}
                </Button>
              </Group>
            )}
          </Stack>
        </form>
      </Card>
      {!isNew && bot && (
        <>
          <TestCall botId={bot.id as unknown as number} canCall={!readOnly} />
          <CallNumber botId={bot.id as unknown as number} variables={bot.spec.variables ?? []} canCall={!readOnly} />
          <WidgetCard botId={bot.id as unknown as number} readOnly={readOnly} />
          <Card withBorder>
            <Text fw={600} mb="xs">
              Versions
            </Text>
            <Versions
              botId={bot.id as unknown as number}
              current={bot.version}
              canEdit={!readOnly}
              onRestore={async (v) => {
                const view = await api.send<BotView>('PUT', `/api/v1/bots/${bot.id}`, { name, spec: v.spec });
                setBot(view);
                setSpec({ ...blankSpec(), ...view.spec });
                setSaved(`Restored version ${v.version} as version ${view.version}.`);
              }}
            />
          </Card>
        </>
      )}
    </Stack>
  );
}
