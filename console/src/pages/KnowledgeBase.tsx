// One knowledge base: its documents with their indexing status (polled while any is waiting or indexing), uploads with a progress bar per file and the Backend's refusal per file, delete and re-index, and a search box to try queries.
import { Alert, Badge, Button, Card, FileButton, Group, Loader, Progress, SegmentedControl, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useEffect, useState } from 'react';
import { useParams } from 'react-router-dom';
import { api, ApiError, type components } from '../api/client';
import { Failed } from '../components/Failed';
import { messageOf, useLoad } from '../lib/load';

type Detail = components['schemas']['BaseDetail'];
type Document = components['schemas']['DocumentView'];
type Results = components['schemas']['SearchResults'];
type Upload = { name: string; done: number; error?: string };

const ACCEPT = '.pdf,.docx,.md,.markdown,.html,.htm,.txt,text/plain,text/markdown,text/html,application/pdf';
const STATUS_COLOR: Record<string, string> = { pending: 'gray', indexing: 'blue', indexed: 'green', failed: 'red' };

function busy(documents: Document[]): boolean {
  return documents.some((d) => d.status === 'pending' || d.status === 'indexing');
}

export function KnowledgeBase({ role }: { role: string }) {
  const { id } = useParams();
  const { data: detail, error, reload } = useLoad(() => api.send<Detail>('GET', `/api/v1/knowledge-bases/${id}`), [id]);
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [query, setQuery] = useState('');
  const [mode, setMode] = useState('hybrid');
  const [results, setResults] = useState<Results | null>(null);
  const [searchProblem, setSearchProblem] = useState<{ field?: string; message: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const editor = role !== 'viewer';

  // Poll while the indexer works, so progress shows without a reload.
  useEffect(() => {
    if (!detail || !busy(detail.documents)) return;
    const timer = setTimeout(() => void reload(), 1500);
    return () => clearTimeout(timer);
  }, [detail, reload]);

  const upload = async (files: File[]) => {
    const list: Upload[] = files.map((f) => ({ name: f.name, done: 0 }));
    setUploads(list);
    for (const [i, file] of files.entries()) {
      const set = (change: Partial<Upload>) => setUploads((now) => now.map((u, j) => (j === i ? { ...u, ...change } : u)));
      try {
        const type = file.type || 'application/octet-stream';
        await api.upload<Document>(`/api/v1/knowledge-bases/${id}/documents?name=${encodeURIComponent(file.name)}`, file, type, (done) => set({ done }));
        set({ done: 1 });
      } catch (e) {
        set({ error: messageOf(e) });
      }
    }
    await reload();
  };

  const remove = async (document: Document) => {
    try {
      await api.send('DELETE', `/api/v1/knowledge-bases/${id}/documents/${document.id}`);
      await reload();
    } catch (e) {
      setNotice(messageOf(e));
    }
  };

  const reindex = async () => {
    try {
      const done = await api.send<{ queued: number }>('POST', `/api/v1/knowledge-bases/${id}/reindex`);
      setNotice(`${done.queued} document(s) queued for indexing again`);
      await reload();
    } catch (e) {
      setNotice(messageOf(e));
    }
  };

  const search = async () => {
    if (!query.trim()) {
      setSearchProblem({ field: 'query', message: 'Type a question' });
      return;
    }
    setSearchProblem(null);
    try {
      setResults(await api.send<Results>('POST', `/api/v1/knowledge-bases/${id}/search`, { query, top_k: 5, mode }));
    } catch (e) {
      setResults(null);
      setSearchProblem({ field: e instanceof ApiError ? e.field : undefined, message: messageOf(e) });
    }
  };

  if (error) return <Failed title="The knowledge base could not be loaded" message={error} onRetry={reload} />;
  if (!detail) return <Loader />;
  return (
    <Stack>
      <Group justify="space-between">
        <div>
          <Title order={2}>{detail.knowledge_base.name}</Title>
          <Text c="dimmed" size="sm">
            {detail.knowledge_base.description} · {detail.knowledge_base.documents} documents · {detail.knowledge_base.chunks} chunks · embedded with {detail.embedding_model ?? 'no model'}
          </Text>
        </div>
        {editor && (
          <Group>
            <Button variant="default" onClick={reindex}>
              Re-index
            </Button>
            <FileButton onChange={(files) => files.length > 0 && void upload(files)} accept={ACCEPT} multiple>
              {(props) => (
                <Button {...props} disabled={!detail.embedding_model}>
                  Upload documents
                </Button>
              )}
            </FileButton>
          </Group>
        )}
      </Group>
      {!detail.embedding_model && <Alert color="yellow">No embedding model is configured on the Backend (EMBEDDING_MODEL_DIR or EMBEDDINGS_URL): uploads and searches are off.</Alert>}
      {notice && (
        <Alert color="blue" withCloseButton onClose={() => setNotice(null)}>
          {notice}
        </Alert>
      )}
      {uploads.length > 0 && (
        <Card withBorder data-testid="uploads">
          {uploads.map((u) => (
            <Stack key={u.name} gap={2} mb="xs">
              <Text size="sm">{u.name}</Text>
              {u.error ? (
                <Text size="sm" c="red">
                  {u.error}
                </Text>
              ) : (
                <Progress value={u.done * 100} />
              )}
            </Stack>
          ))}
        </Card>
      )}
      <Table striped data-testid="documents">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Document</Table.Th>
            <Table.Th>Format</Table.Th>
            <Table.Th>Size</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Chunks</Table.Th>
            {editor && <Table.Th />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {detail.documents.map((d) => (
            <Table.Tr key={d.id}>
              <Table.Td>{d.name}</Table.Td>
              <Table.Td>{d.format}</Table.Td>
              <Table.Td>{(d.size_bytes / 1024).toFixed(1)} KB</Table.Td>
              <Table.Td>
                <Badge color={STATUS_COLOR[d.status] ?? 'gray'}>{d.status}</Badge>
                {d.error && (
                  <Text size="xs" c="red">
                    {d.error}
                  </Text>
                )}
                {d.status === 'indexing' && d.chunks_total > 0 && <Progress size="sm" mt={4} value={(100 * d.chunks_done) / d.chunks_total} />}
              </Table.Td>
              <Table.Td>{d.status === 'indexed' ? d.chunks_total : `${d.chunks_done} / ${d.chunks_total}`}</Table.Td>
              {editor && (
                <Table.Td>
                  <Button size="xs" variant="subtle" color="red" onClick={() => void remove(d)}>
                    Delete
                  </Button>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {detail.documents.length === 0 && <Text c="dimmed">No documents yet: upload PDF, DOCX, Markdown, HTML or text files.</Text>}
      <Card withBorder>
        <Text fw={600} mb="xs">
          Try a search
        </Text>
        <Group align="flex-start">
          <TextInput
            style={{ flex: 1 }}
            placeholder="What a caller might ask"
            value={query}
            onChange={(e) => setQuery(e.currentTarget.value)}
            onKeyDown={(e) => e.key === 'Enter' && void search()}
            error={searchProblem?.field === 'query' ? searchProblem.message : undefined}
          />
          <SegmentedControl value={mode} onChange={setMode} data={['hybrid', 'vector', 'keyword']} />
          <Button onClick={search}>Search</Button>
        </Group>
        {searchProblem && searchProblem.field !== 'query' && (
          <Text c="red" size="sm" mt="xs">
            {searchProblem.message}
          </Text>
        )}
        {results && (
          <Stack mt="sm" gap="xs" data-testid="search-results">
            <Text size="xs" c="dimmed">
              {results.passages.length} passages in {results.took_ms.toFixed(1)} ms
            </Text>
            {results.passages.map((p) => (
              <Card key={p.chunk_id} withBorder padding="xs">
                <Group justify="space-between">
                  <Text size="sm" fw={600}>
                    {p.document_name} · chunk {p.position + 1}
                  </Text>
                  <Text size="xs" c="dimmed">
                    similarity {p.similarity.toFixed(2)}
                  </Text>
                </Group>
                <Text size="sm">{p.text}</Text>
              </Card>
            ))}
          </Stack>
        )}
      </Card>
    </Stack>
  );
}
