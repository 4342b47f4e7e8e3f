// The console's shell: sign-in when there is no session (returning to the page the operator was on), else the navigation and the pages.
import { AppShell, Burger, Button, Group, Loader, NavLink, Text } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { lazy, Suspense, useEffect, useState } from 'react';
import { Link, Navigate, Route, Routes, useLocation, useNavigate } from 'react-router-dom';
import { api } from './api/client';
import { Bot } from './pages/Bot';
import { Bots } from './pages/Bots';
import { Call } from './pages/Call';
import { Calls } from './pages/Calls';
import { Campaign } from './pages/Campaign';
import { Campaigns } from './pages/Campaigns';
import { Fleet } from './pages/Fleet';
import { KnowledgeBase } from './pages/KnowledgeBase';
import { KnowledgeBases } from './pages/KnowledgeBases';
// The charts library is large: the reports page loads it when it is opened.
const Reports = lazy(() => import('./pages/Reports').then((m) => ({ default: m.Reports })));
import { Settings } from './pages/Settings';
import { SignIn } from './pages/SignIn';

const SECTIONS = [
  { to: '/bots', label: 'Bots' },
  { to: '/campaigns', label: 'Campaigns' },
  { to: '/knowledge', label: 'Knowledge' },
  { to: '/calls', label: 'Calls' },
  { to: '/reports', label: 'Reports' },
  { to: '/fleet', label: 'Fleet' },
  { to: '/settings', label: 'Settings' },
];

/// Where to go after signing in: the `next` page, never sign-in itself.
function nextPage(search: string): string {
  const next = new URLSearchParams(search).get('next');
  return next && next.startsWith('/') && !next.startsWith('/sign-in') ? next : '/bots';
}

export function App() {
  const [session, setSession] = useState(api.session);
  const navigate = useNavigate();
  const location = useLocation();
  const [opened, { toggle }] = useDisclosure();

  useEffect(() => {
    // Several requests can find the session over at once: the first one sends the operator to
    // sign-in with the page they were on; the others find them there already.
    api.onSignedOut = () => {
      setSession(null);
      const here = window.location.pathname;
      if (!here.startsWith('/sign-in')) navigate(`/sign-in?next=${encodeURIComponent(here)}`);
    };
  }, [navigate]);

  if (!session) {
    return (
      <Routes>
        <Route path="/sign-in" element={<SignIn onSignedIn={() => setSession(api.session)} />} />
        <Route path="*" element={<Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname)}`} replace />} />
      </Routes>
    );
  }
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group>
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Menu" />
            <Text fw={700}>vox</Text>
          </Group>
          <Group>
            <Text size="sm" c="dimmed">
              {session.user.email} · {session.user.role}
            </Text>
            <Button variant="subtle" size="xs" onClick={() => void api.logOut()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        {SECTIONS.map((s) => (
          <NavLink key={s.to} component={Link} to={s.to} label={s.label} active={location.pathname.startsWith(s.to)} />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Routes>
          <Route path="/bots" element={<Bots role={session.user.role} />} />
          <Route path="/bots/:id" element={<Bot role={session.user.role} />} />
          <Route path="/campaigns" element={<Campaigns role={session.user.role} />} />
          <Route path="/campaigns/:id" element={<Campaign role={session.user.role} />} />
          <Route path="/knowledge" element={<KnowledgeBases role={session.user.role} />} />
          <Route path="/knowledge/:id" element={<KnowledgeBase role={session.user.role} />} />
          <Route path="/calls" element={<Calls />} />
          <Route path="/fleet" element={<Fleet role={session.user.role} />} />
          <Route path="/settings" element={<Settings role={session.user.role} />} />
          <Route
            path="/reports"
            element={
              <Suspense fallback={<Loader />}>
                <Reports />
              </Suspense>
            }
          />
          <Route path="/calls/:id" element={<Call />} />
          <Route path="/sign-in" element={<Navigate to={nextPage(location.search)} replace />} />
          <Route path="*" element={<Navigate to="/bots" replace />} />
        </Routes>
      </AppShell.Main>
    </AppShell>
  );
}
