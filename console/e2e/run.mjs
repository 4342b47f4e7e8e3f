// End-to-end console test: a real `vox bridge` on a fresh SQLite database serving the console's build, driven by Debian's Chromium through playwright-core; screenshots of the pages go to docs/console/.
import { chromium } from 'playwright-core';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const vox = process.env.VOX_BIN ?? join(root, 'target/debug/vox');
const shots = join(root, 'docs/console');
const email = 'admin@vox.test';
const password = 'correct horse battery staple';

function freePort() {
  return new Promise((ok) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const dir = mkdtempSync(join(tmpdir(), 'vox-console-e2e-'));
const port = await freePort();
const env = {
  PATH: process.env.PATH,
  RUST_LOG: 'warn',
  DATABASE_URL: `sqlite://${join(dir, 'vox.db')}`,
  JWT_SECRET: 'console-e2e-jwt-secret-0123456789',
  VOXCORE_SECRET: 'console-e2e-fleet-secret-0123456789',
  VOXBRIDGE_HOST: '127.0.0.1',
  VOXBRIDGE_PORT: String(port),
  CONSOLE_DIR: join(root, 'console/dist'),
  OBJECT_STORE_URL: `file://${join(dir, 'recordings')}`,
};
const run = (args, input) => {
  const out = spawnSync(vox, args, { env, input, encoding: 'utf8' });
  check(out.status === 0, `vox ${args.join(' ')} failed: ${out.stderr}`);
};
run(['migrate']);
run(['admin', 'create-user', '--email', email, '--password-stdin'], `${password}\n`);
const bridge = spawn(vox, ['bridge'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
let browser;
try {
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {}
    check(i < 100, 'vox bridge did not come up');
    await new Promise((r) => setTimeout(r, 100));
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  mkdirSync(shots, { recursive: true });

  // A deep link without a session goes to sign-in and comes back after it.
  await page.goto(`${base}/bots`);
  await page.getByRole('heading', { name: 'Sign in to vox' }).waitFor();
  check(page.url().includes('/sign-in?next=%2Fbots'), `not sent to sign-in: ${page.url()}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  await page.screenshot({ path: join(shots, 'sign-in.png') });
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Bots' }).waitFor();
  await page.getByText('No bots yet.').waitFor();
  check(new URL(page.url()).pathname === '/bots', `not back on /bots: ${page.url()}`);

  // The form checks before sending, then creates the bot, which the list shows.
  await page.getByRole('button', { name: 'Create bot' }).click();
  await page.getByText('Give the bot a name.').waitFor();
  await page.getByLabel('Name').fill('Dental reminders');
  await page.getByLabel('Prompt').fill('You remind {{name}} of the dental appointment.');
  await page.getByLabel('First message').fill('Hello {{name}}, this is the dental clinic.');
  // The Backend refuses an undeclared variable, and the console shows it at the prompt.
  await page.getByRole('button', { name: 'Create bot' }).click();
  await page.getByText('{{name}} is not a declared variable', { exact: false }).waitFor();
  await page.getByLabel('Variables').fill('name');
  await page.getByRole('button', { name: 'Create bot' }).click();
  await page.getByRole('cell', { name: 'Dental reminders' }).waitFor();
  await page.screenshot({ path: join(shots, 'bots.png'), fullPage: true });

  // The session survives a reload; the page works at a phone's width.
  await page.reload();
  await page.getByRole('cell', { name: 'Dental reminders' }).waitFor();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(shots, 'bots-phone.png'), fullPage: true });

  // Signing out returns to sign-in.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to vox' }).waitFor();
  console.log('console e2e: sign-in, bot creation, reload, phone width and sign-out passed');
} catch (error) {
  const page = browser?.contexts()[0]?.pages()[0];
  if (page) {
    console.error('page text at the failure:\n' + (await page.locator('body').innerText().catch(() => '')));
    await page.screenshot({ path: join(shots, 'failure.png') }).catch(() => {});
  }
  throw error;
} finally {
  await browser?.close();
  bridge.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
