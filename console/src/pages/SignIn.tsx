// Sign-in: email and password against the Backend; its refusal is shown on the form.
import { Alert, Button, Card, Center, PasswordInput, Stack, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!email.includes('@')) return setError('Enter the email address you were invited with.');
    if (!password) return setError('Enter your password.');
    setBusy(true);
    setError(null);
    try {
      await api.signIn(email, password);
      onSignedIn();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : 'The Backend could not be reached: try again.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <Center h="100vh" p="md">
      <Card withBorder shadow="sm" w={360} p="lg">
        <form onSubmit={submit}>
          <Stack>
            <Title order={3}>Sign in to vox</Title>
            {error && <Alert color="red">{error}</Alert>}
            <TextInput label="Email" value={email} onChange={(e) => setEmail(e.currentTarget.value)} autoComplete="username" />
            <PasswordInput label="Password" value={password} onChange={(e) => setPassword(e.currentTarget.value)} autoComplete="current-password" />
            <Button type="submit" loading={busy}>
              Sign in
            </Button>
          </Stack>
        </form>
      </Card>
    </Center>
  );
}
