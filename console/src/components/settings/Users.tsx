// Users and roles for admins: create a user (checked before sending, the Backend's field errors at the field), change a role, disable or enable.
import { Alert, Badge, Button, Card, Group, Loader, PasswordInput, Select, Stack, Table, Text, TextInput } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { api, ApiError, type UserView } from '../../api/client';
import { messageOf, useLoad } from '../../lib/load';

const ROLES = ['admin', 'operator', 'viewer'];

export function Users({ me }: { me: string }) {
  const [error, setError] = useState<string | null>(null);
  const [form, setForm] = useState({ email: '', name: '', password: '', role: 'operator' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const { data: users, error: loadError, reload: load } = useLoad(async () => (await api.send<{ items: UserView[] }>('GET', '/api/v1/users?limit=200')).items, []);

  async function create(event: FormEvent) {
    event.preventDefault();
    const found: Record<string, string> = {};
    if (!/^[^@\s]+@[^@\s]+$/.test(form.email)) found.email = 'An email address.';
    if (!form.name.trim()) found.name = 'Their name.';
    if (form.password.length < 12) found.password = 'At least 12 characters.';
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    try {
      await api.send('POST', '/api/v1/users', form);
      setForm({ email: '', name: '', password: '', role: 'operator' });
      await load();
    } catch (e) {
      if (e instanceof ApiError && e.field) setErrors({ [e.field]: e.message });
      else setErrors({ form: messageOf(e) });
    }
  }

  async function update(user: UserView, patch: { role?: string; disabled?: boolean }) {
    setError(null);
    try {
      await api.send('PATCH', `/api/v1/users/${user.id}`, patch);
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <Card withBorder>
      <Stack gap="xs">
        <Text fw={600}>Users and roles</Text>
        <Text size="sm" c="dimmed">
          Admins manage everything; operators run bots and campaigns; viewers only look.
        </Text>
        {(error ?? loadError) && <Alert color="red">{error ?? loadError}</Alert>}
        {!users && !loadError && <Loader size="sm" />}
        {users && (
          <Table>
            <Table.Tbody>
              {users.map((u) => (
                <Table.Tr key={u.id}>
                  <Table.Td>{u.name}</Table.Td>
                  <Table.Td>{u.email}</Table.Td>
                  <Table.Td>
                    <Select
                      aria-label={`Role of ${u.email}`}
                      data={ROLES}
                      value={u.role}
                      allowDeselect={false}
                      disabled={u.email === me}
                      onChange={(role) => role && role !== u.role && update(u, { role })}
                      w={130}
                    />
                  </Table.Td>
                  <Table.Td>{u.disabled ? <Badge color="gray">disabled</Badge> : <Badge color="green">active</Badge>}</Table.Td>
                  <Table.Td>
                    {u.email !== me && (
                      <Button size="xs" variant="subtle" onClick={() => update(u, { disabled: !u.disabled })}>
                        {u.disabled ? 'Enable' : 'Disable'}
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
        <form onSubmit={create}>
          {errors.form && <Alert color="red">{errors.form}</Alert>}
          <Group align="start" grow>
            <TextInput label="Email" value={form.email} onChange={(e) => setForm({ ...form, email: e.currentTarget.value })} error={errors.email} />
            <TextInput label="Full name" value={form.name} onChange={(e) => setForm({ ...form, name: e.currentTarget.value })} error={errors.name} />
            <PasswordInput label="Password" value={form.password} onChange={(e) => setForm({ ...form, password: e.currentTarget.value })} error={errors.password} autoComplete="new-password" />
            <Select label="Role" data={ROLES} value={form.role} allowDeselect={false} onChange={(role) => role && setForm({ ...form, role })} error={errors.role} />
          </Group>
          <Button type="submit" mt="sm">
            Add user
          </Button>
        </form>
      </Stack>
    </Card>
  );
}
