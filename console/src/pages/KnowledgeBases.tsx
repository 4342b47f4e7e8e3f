// Knowledge bases: the list (documents and chunks per base) and a form to create one, the Backend's refusal shown at its field.
import { Button, Card, Group, Loader, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { useNavigate } from 'react-router-dom';
import { api, ApiError, type components } from '../api/client';
import { Failed } from '../components/Failed';
import { messageOf, useLoad } from '../lib/load';

type Base = components['schemas']['BaseView'];

export function KnowledgeBases({ role }: { role: string }) {
  const navigate = useNavigate();
  const { data: bases, error, reload } = useLoad(() => api.send<Base[]>('GET', '/api/v1/knowledge-bases'), []);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [problem, setProblem] = useState<{ field?: string; message: string } | null>(null);
  const [saving, setSaving] = useState(false);

  const create = async () => {
    if (!name.trim()) {
      setProblem({ field: 'name', message: 'Give the knowledge base a name' });
      return;
    }
    setSaving(true);
    setProblem(null);
    try {
      const base = await api.send<Base>('POST', '/api/v1/knowledge-bases', { name, description });
      navigate(`/knowledge/${base.id}`);
    } catch (e) {
      setProblem({ field: e instanceof ApiError ? e.field : undefined, message: messageOf(e) });
    } finally {
      setSaving(false);
    }
  };

  return (
    <Stack>
      <Title order={2}>Knowledge bases</Title>
      <Text c="dimmed" size="sm">
        Documents a bot searches during a call: give a bot the “search knowledge” tool naming a base.
      </Text>
      {role !== 'viewer' && (
        <Card withBorder>
          <Group align="flex-end">
            <TextInput label="Name" value={name} onChange={(e) => setName(e.currentTarget.value)} error={problem?.field === 'name' ? problem.message : undefined} />
            <TextInput
              label="Description"
              style={{ flex: 1 }}
              value={description}
              onChange={(e) => setDescription(e.currentTarget.value)}
              error={problem?.field === 'description' ? problem.message : undefined}
            />
            <Button onClick={create} loading={saving}>
              Create
            </Button>
          </Group>
          {problem && !problem.field && (
            <Text c="red" size="sm" mt="xs">
              {problem.message}
            </Text>
          )}
        </Card>
      )}
      {!bases && !error && <Loader />}
      {error && <Failed title="The knowledge bases could not be loaded" message={error} onRetry={reload} />}
      {bases && bases.length === 0 && <Text c="dimmed">No knowledge bases yet.</Text>}
      {bases && bases.length > 0 && (
        <Table striped data-testid="knowledge-bases">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Name</Table.Th>
              <Table.Th>Description</Table.Th>
              <Table.Th>Documents</Table.Th>
              <Table.Th>Chunks</Table.Th>
              <Table.Th>Updated</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {bases.map((b) => (
              <Table.Tr key={b.id} style={{ cursor: 'pointer' }} onClick={() => navigate(`/knowledge/${b.id}`)}>
                <Table.Td>{b.name}</Table.Td>
                <Table.Td>{b.description}</Table.Td>
                <Table.Td>{b.documents}</Table.Td>
                <Table.Td>{b.chunks}</Table.Td>
                <Table.Td>{new Date(b.updated_at).toLocaleString()}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}
