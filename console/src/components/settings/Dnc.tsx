// The do-not-call list: add one number (the Backend's field error at the field), import a CSV with progress and a per-row report, remove.
import { Alert, Button, Card, FileInput, Group, Loader, Progress, Stack, Table, Text, TextInput } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { api, ApiError, type components, type ImportReport } from '../../api/client';
import { messageOf, useLoad } from '../../lib/load';

type DncView = components['schemas']['DncView'];

export function Dnc({ canEdit }: { canEdit: boolean }) {
  const [phone, setPhone] = useState('');
  const [reason, setReason] = useState('');
  const [fieldError, setFieldError] = useState<string | undefined>();
  const [error, setError] = useState<string | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [region, setRegion] = useState('');
  const [regionError, setRegionError] = useState<string | undefined>();
  const [progress, setProgress] = useState<number | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);

  const { data: entries, error: loadError, reload: load } = useLoad(async () => (await api.send<{ items: DncView[] }>('GET', '/api/v1/dnc')).items, []);

  async function add(event: FormEvent) {
    event.preventDefault();
    setFieldError(undefined);
    if (!phone.trim()) return setFieldError('Enter the number to stop calling.');
    try {
      // The API takes E.164; spaces, dots, dashes and brackets people type are left out.
      await api.send('POST', '/api/v1/dnc', { phone: phone.replace(/[\s().-]/g, ''), reason });
      setPhone('');
      setReason('');
      await load();
    } catch (e) {
      if (e instanceof ApiError && e.field === 'phone') setFieldError(e.message);
      else setError(messageOf(e));
    }
  }

  async function importCsv() {
    if (!file) return;
    setReport(null);
    setError(null);
    setProgress(0);
    const query = region.trim() ? `?${new URLSearchParams({ default_region: region.trim() })}` : '';
    try {
      setReport(await api.upload<ImportReport>(`/api/v1/dnc/import${query}`, file, 'text/csv', setProgress));
      setFile(null);
      await load();
    } catch (e) {
      if (e instanceof ApiError && e.field === 'default_region') setRegionError(e.message);
      else setError(messageOf(e));
    } finally {
      setProgress(null);
    }
  }

  async function remove(number: string) {
    try {
      await api.send('DELETE', `/api/v1/dnc/${encodeURIComponent(number)}`);
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <Card withBorder>
      <Stack gap="xs">
        <Text fw={600}>Do-not-call list</Text>
        {canEdit && (
          <form onSubmit={add}>
            <Group align="start">
              <TextInput label="Number" placeholder="+14155550100" value={phone} onChange={(e) => setPhone(e.currentTarget.value)} error={fieldError} />
              <TextInput label="Reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
              <Button type="submit" mt={25}>
                Add
              </Button>
            </Group>
          </form>
        )}
        {canEdit && (
          <Group align="end">
            <FileInput label="Import a CSV" description="A phone column and an optional reason column" placeholder="numbers.csv" accept=".csv,text/csv" value={file} onChange={setFile} clearable />
            <TextInput label="Default region" description="For numbers without +" placeholder="US" value={region} onChange={(e) => setRegion(e.currentTarget.value)} error={regionError} w={140} />
            <Button variant="light" disabled={!file || progress !== null} onClick={importCsv}>
              Import
            </Button>
          </Group>
        )}
        {progress !== null && <Progress value={progress * 100} aria-label="Upload progress" />}
        {report && (
          <Alert color={report.rejected > 0 ? 'yellow' : 'green'} data-testid="dnc-report">
            {report.rows} rows: {report.imported} listed, {report.duplicates} already listed, {report.rejected} rejected
            {report.errors.slice(0, 20).map((p) => (
              <div key={`${p.line}-${p.field}`}>
                line {p.line}, {p.field}: {p.message}
              </div>
            ))}
          </Alert>
        )}
        {(error ?? loadError) && <Alert color="red">{error ?? loadError}</Alert>}
        {!entries && !loadError && <Loader size="sm" />}
        {entries && entries.length === 0 && <Text c="dimmed">Nobody is on the list.</Text>}
        {entries && entries.length > 0 && (
          <Table>
            <Table.Tbody>
              {entries.map((d) => (
                <Table.Tr key={d.phone}>
                  <Table.Td>{d.phone}</Table.Td>
                  <Table.Td>{d.reason}</Table.Td>
                  <Table.Td>{new Date(d.created_at).toLocaleString()}</Table.Td>
                  <Table.Td>
                    {canEdit && (
                      <Button size="xs" variant="subtle" color="red" onClick={() => remove(d.phone)}>
                        Remove
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>
    </Card>
  );
}
