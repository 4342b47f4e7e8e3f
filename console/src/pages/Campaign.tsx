// One campaign: its state and actions, the live view, and its settings (schedule, windows, pacing, retries, caller ID).
import { Alert, Anchor, Badge, Button, Card, Group, Loader, Stack, Text, Title } from '@mantine/core';
import { useCallback, useEffect, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { api, type BotView, type CampaignView } from '../api/client';
import { LiveView } from '../components/campaign/Live';
import { QuotaCard } from '../components/campaign/Quota';
import { SettingsForm } from '../components/campaign/SettingsForm';
import { Failed } from '../components/Failed';
import { ACTIONS } from './Campaigns';
import { messageOf } from '../lib/load';

export function Campaign({ role }: { role: string }) {
  const { id } = useParams();
  const [campaign, setCampaign] = useState<CampaignView | null>(null);
  const [bots, setBots] = useState<BotView[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const load = useCallback(async () => {
    setError(null);
    try {
      const [c, b] = await Promise.all([api.send<CampaignView>('GET', `/api/v1/campaigns/${id}`), api.send<{ items: BotView[] }>('GET', '/api/v1/bots')]);
      // An archived bot is left out of the list: the campaign still shows its own by name.
      let list = b.items;
      if (!list.some((bot) => bot.id === c.bot_id)) {
        list = [...list, await api.send<BotView>('GET', `/api/v1/bots/${c.bot_id}`)];
      }
      setCampaign(c);
      setBots(list);
    } catch (e) {
      setError(messageOf(e));
    }
  }, [id]);
  useEffect(() => {
    void load();
  }, [load]);

  if (error) return <Failed title="The campaign could not be loaded" message={error} onRetry={load} />;
  if (!campaign) return <Loader />;
  const canEdit = role !== 'viewer';
  async function act(action: string) {
    setActionError(null);
    try {
      setCampaign(await api.send<CampaignView>('POST', `/api/v1/campaigns/${id}/${action}`, {}));
    } catch (e) {
      setActionError(messageOf(e));
    }
  }
  return (
    <Stack>
      <Group justify="space-between">
        <Group>
          <Title order={2}>{campaign.name}</Title>
          <Badge color={campaign.state === 'running' ? 'green' : 'gray'}>{campaign.state}</Badge>
        </Group>
        <Anchor component={Link} to="/campaigns">
          All campaigns
        </Anchor>
      </Group>
      {canEdit && (
        <Group gap="xs">
          {ACTIONS[campaign.state].map((a) => (
            <Button key={a} size="xs" variant="light" onClick={() => act(a)}>
              {a}
            </Button>
          ))}
        </Group>
      )}
      {actionError && <Alert color="red">{actionError}</Alert>}
      <Card withBorder>
        <Text fw={600} mb="xs">
          Live
        </Text>
        <LiveView campaignId={campaign.id as unknown as number} />
      </Card>
      <Card withBorder>
        <Text fw={600} mb="xs">
          Settings
        </Text>
        <SettingsForm key={campaign.state} campaign={campaign} bots={bots} readOnly={!canEdit || campaign.state === 'completed'} onSaved={setCampaign} />
        <QuotaCard campaignId={campaign.id} readOnly={!canEdit} />
      </Card>
    </Stack>
  );
}
