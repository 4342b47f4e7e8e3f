// The website widget in Chromium: an operator's page on its own origin loads `widget.js` from the Backend, a visitor calls the bot through a real worker with the fake microphone and reads the captions; a site the widget does not list and a second visitor past the cap are refused, and say so.
import { createServer } from 'node:http';
import { join } from 'node:path';

/// A stand-in for the operator's website: one page that embeds the widget.
async function website(tag) {
  // `tag` is asked at each request: the page is served once the widget's key is known.
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(req.url === '/' ? `<!doctype html><title>Bright Smile Dental</title><h1>Bright Smile Dental</h1><p>Book your cleaning today.</p>${tag()}` : 'not found');
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { port: server.address().port, close: () => server.close() };
}

/// Runs on the bot page of a flow bot whose first line is `greeting`, signed in as an operator.
export async function widgetChecks({ page, browser, base, shots, check, greeting, email, password }) {
  // The operator turns the widget on for their site, with one call at a time.
  const card = page.getByTestId('bot-widget');
  await card.getByRole('button', { name: 'Turn on the widget' }).click();
  await card.getByText('list between 1 and 50 sites').waitFor();
  let tag = '';
  const shop = await website(() => tag);
  await card.getByLabel('Allowed sites, one per line').fill(`http://127.0.0.1:${shop.port}/page`);
  await card.getByRole('button', { name: 'Turn on the widget' }).click();
  await card
    .getByText('allowed_origins[0]', { exact: false })
    .or(card.getByText('more than an origin', { exact: false }))
    .first()
    .waitFor();
  await card.getByLabel('Allowed sites, one per line').fill(`http://127.0.0.1:${shop.port}`);
  await card.getByLabel('Calls at once').fill('1');
  await card.getByRole('button', { name: 'Turn on the widget' }).click();
  await card.getByText('Saved: paste the tag', { exact: false }).waitFor();
  tag = (await card.getByTestId('widget-tag').innerText()).trim();
  check(tag.startsWith(`<script src="${base}/widget.js" data-bot="wk_`), `the embed tag is not the widget's: ${tag}`);
  await card.screenshot({ path: join(shots, 'bot-widget.png') });
  const allowed = `http://127.0.0.1:${shop.port}/`;
  // The same page on another origin (localhost is another site to the browser).
  const elsewhere = `http://localhost:${shop.port}/`;
  try {
    // A visitor on the operator's site calls: the bot's first line shows as a caption.
    const visitor = await browser.newPage({ viewport: { width: 1000, height: 700 } });
    await visitor.goto(allowed);
    await visitor.getByTestId('vox-widget-button').click();
    await visitor.getByTestId('vox-widget-captions').getByText(greeting, { exact: false }).waitFor({ timeout: 20000 });
    const widget = visitor.locator('vox-widget');
    check((await widget.getAttribute('data-state')) === 'live', `the visitor's call is not live: ${await widget.getAttribute('data-state')}`);
    await visitor.screenshot({ path: join(shots, 'widget.png') });
    const callId = await widget.getAttribute('data-call-id');

    // A second visitor while the only line is taken: refused, told to try later.
    const second = await browser.newPage();
    await second.goto(allowed);
    await second.getByTestId('vox-widget-button').click();
    await second.getByTestId('vox-widget-status').getByText('All our lines are busy', { exact: false }).waitFor();
    check((await second.locator('vox-widget').getAttribute('data-refusal')) === 'widget.busy', 'the second visitor was not refused for the cap');
    await second.close();

    // The same page on a site the widget does not list: refused, and says so.
    const stranger = await browser.newPage();
    await stranger.goto(elsewhere);
    await stranger.getByTestId('vox-widget-button').click();
    await stranger.getByTestId('vox-widget-status').getByText('not available on this site', { exact: false }).waitFor();
    check((await stranger.locator('vox-widget').getAttribute('data-refusal')) === 'widget.origin_refused', 'a site the widget does not list was not refused');
    await stranger.close();

    // The visitor hangs up; the call is in the log as a web call of the bot.
    await visitor.getByTestId('vox-widget-button').click();
    await visitor.getByTestId('vox-widget-status').getByText('you hung up', { exact: false }).waitFor();
    await visitor.close();
    const login = await (await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) })).json();
    const call = await (await fetch(`${base}/api/v1/calls/${callId}`, { headers: { authorization: `Bearer ${login.access_token}` } })).json();
    check(call.direction === 'web', `the widget's call is not a web call: ${JSON.stringify(call).slice(0, 300)}`);
  } finally {
    shop.close();
  }
}
