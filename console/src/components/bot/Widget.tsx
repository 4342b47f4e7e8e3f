// A bot's website widget: the sites allowed to use it, its limits, and the script tag to paste into them; saved, changed and taken away.
import { Alert, Button, Card, Code, Group, NumberInput, Stack, Text, Textarea } from '@mantine/core';
import { useEffect, useState } from 'react';
import { api, ApiError, type components } from '../../api/client';
import { messageOf } from '../../lib/load';

type Widget = components['schemas']['Widget'];

/// The tag an operator pastes into their site.
export function embedTag(origin: string, key: string): string {
  return `<script src="${origin}/widget.js" data-bot="${key}" async></script>`;
}

export function WidgetCard({ botId, readOnly }: { botId: number; readOnly: boolean }) {
  const path = `/api/v1/bots/${botId}/widget`;
  const [widget, setWidget] = useState<Widget | null>(null);
  const [origins, setOrigins] = useState('');
  const [visitor, setVisitor] = useState<number | string>(3);
  const [perKey, setPerKey] = useState<number | string>(30);
  const [atOnce, setAtOnce] = useState<number | string>(5);
  const [said, setSaid] = useState<{ ok: boolean; text: string } | null>(null);

  function show(next: Widget | null) {
    setWidget(next);
    if (next) {
      setOrigins(next.allowed_origins.join('\n'));
      setVisitor(next.visitor_calls_per_minute);
      setPerKey(next.key_calls_per_minute);
      setAtOnce(next.max_concurrent_calls);
    }
  }

  useEffect(() => {
    api.send<Widget>('GET', path).then(show, (e) => {
      if (!(e instanceof ApiError && e.status === 404)) setSaid({ ok: false, text: messageOf(e) });
    });
  }, [path]);

  async function save() {
    setSaid(null);
    try {
      const saved = await api.send<Widget>('PUT', path, {
        allowed_origins: origins
          .split('\n')
          .map((o) => o.trim())
          .filter(Boolean),
        visitor_calls_per_minute: Number(visitor),
        key_calls_per_minute: Number(perKey),
        max_concurrent_calls: Number(atOnce),
      });
      show(saved);
      setSaid({ ok: true, text: 'Saved: paste the tag below into the pages of these sites.' });
    } catch (e) {
      setSaid({ ok: false, text: messageOf(e) });
    }
  }

  async function remove() {
    setSaid(null);
    try {
      await api.send('DELETE', path);
      setWidget(null);
      setSaid({ ok: true, text: 'The widget is off: its key no longer starts calls.' });
    } catch (e) {
      setSaid({ ok: false, text: messageOf(e) });
    }
  }

  return (
    <Card withBorder data-testid="bot-widget">
      <Stack gap="xs">
        <Text fw={600}>Website widget</Text>
        <Text size="sm" c="dimmed">
          A call button for your website: visitors talk to this bot from their browser. Only the sites listed here may use it.
        </Text>
        {widget && (
          <>
            <Text size="sm">Paste into your pages:</Text>
            <Code block data-testid="widget-tag">
              {embedTag(window.location.origin, widget.key)}
            </Code>
          </>
        )}
        {!readOnly && (
          <>
            <Textarea label="Allowed sites, one per line" placeholder="https://www.example.com" autosize minRows={2} value={origins} onChange={(e) => setOrigins(e.currentTarget.value)} />
            <Group grow>
              <NumberInput label="Calls a minute per visitor" min={1} max={60} value={visitor} onChange={setVisitor} />
              <NumberInput label="Calls a minute in all" min={1} max={10000} value={perKey} onChange={setPerKey} />
              <NumberInput label="Calls at once" min={1} max={10000} value={atOnce} onChange={setAtOnce} />
            </Group>
            <Group>
              <Button onClick={() => void save()}>{widget ? 'Save widget' : 'Turn on the widget'}</Button>
              {widget && (
                <Button variant="default" color="red" onClick={() => void remove()}>
                  Turn off
                </Button>
              )}
            </Group>
          </>
        )}
        {readOnly && !widget && <Text size="sm">No widget.</Text>}
        {said && <Alert color={said.ok ? 'green' : 'red'}>{said.text}</Alert>}
      </Stack>
    </Card>
  );
}
