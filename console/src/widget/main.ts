// The website widget, built on its own as `widget.js`: an operator's page adds `<script src="https://<vox>/widget.js" data-bot="wk_…" async></script>` and its visitors get a call button, the microphone prompt, live captions and a hang-up, over the same `vox` media protocol as the console's test call.
import { VoxCall, type Line } from '../lib/voxcall';

/// What the page's script tag says.
export type Options = {
  /// The bot's publishable widget key (`data-bot`).
  key: string;
  /// Where the Backend is: `data-api`, else the origin `widget.js` came from.
  api: string;
  /// The button's words (`data-label`).
  label: string;
};

/// The options of `script`, or why it cannot run.
export function optionsOf(script: { src: string; dataset: Record<string, string | undefined> }): Options | string {
  const key = script.dataset.bot?.trim();
  if (!key) return 'the vox widget needs data-bot="<the bot\'s widget key>" on its script tag';
  let api: string;
  try {
    api = new URL(script.dataset.api?.trim() || script.src).origin;
  } catch {
    return 'the vox widget cannot tell where its Backend is: set data-api="https://…"';
  }
  return { key, api, label: script.dataset.label?.trim() || 'Talk to us' };
}

/// A refusal as a visitor should read it.
export function refusal(status: number, body: unknown): string {
  const error = (body as { error?: { code?: string; message?: string } } | null)?.error;
  switch (error?.code) {
    case 'widget.origin_refused':
      return 'Calls are not available on this site.';
    case 'widget.busy':
      return 'All our lines are busy. Please try again in a minute.';
    case 'widget.visitor_rate_limited':
    case 'widget.key_rate_limited':
    case 'fleet.capacity_exhausted':
      return 'We are very busy right now. Please try again shortly.';
    default:
      return status === 404 ? 'This call button is not set up.' : 'The call could not start. Please try again later.';
  }
}

const STYLE = `
:host { all: initial; display: flex; flex-direction: column; align-items: flex-end; position: fixed; right: 20px; bottom: 20px; z-index: 2147483647; font: 14px/1.4 system-ui, sans-serif; color: #1a1b1e; }
button { font: inherit; border: 0; border-radius: 999px; padding: 10px 18px; cursor: pointer; color: #fff; background: #1c7ed6; box-shadow: 0 2px 8px rgba(0,0,0,.25); }
button.hang { background: #e03131; }
button:disabled { opacity: .6; cursor: default; }
.panel { width: 300px; max-height: 360px; margin-bottom: 10px; padding: 12px; border-radius: 12px; background: #fff; box-shadow: 0 4px 16px rgba(0,0,0,.25); display: flex; flex-direction: column; gap: 8px; }
.panel[hidden] { display: none; }
.status { font-size: 12px; color: #5c5f66; }
.captions { overflow-y: auto; display: flex; flex-direction: column; gap: 6px; }
.line { padding: 6px 10px; border-radius: 10px; max-width: 85%; }
.user { align-self: flex-end; background: #e7f5ff; }
.assistant { align-self: flex-start; background: #f1f3f5; }
.error { color: #c92a2a; }
`;

type Phase = 'idle' | 'connecting' | 'live' | 'ended';

/// Puts the widget on the page, in its own shadow root so the page's styles leave it alone.
export function mount(options: Options, host: HTMLElement = document.body): HTMLElement {
  const root = document.createElement('vox-widget');
  const shadow = root.attachShadow({ mode: 'open' });
  shadow.innerHTML = `<style>${STYLE}</style>
<div class="panel" hidden role="dialog" aria-label="Call">
  <div class="status" role="status" data-testid="vox-widget-status"></div>
  <div class="captions" role="log" aria-live="polite" data-testid="vox-widget-captions"></div>
</div>
<button type="button" data-testid="vox-widget-button"></button>`;
  const panel = shadow.querySelector<HTMLDivElement>('.panel')!;
  const status = shadow.querySelector<HTMLDivElement>('.status')!;
  const captions = shadow.querySelector<HTMLDivElement>('.captions')!;
  const button = shadow.querySelector<HTMLButtonElement>('button')!;
  let call: VoxCall | null = null;
  let phase: Phase = 'idle';

  function show(next: Phase, text: string, failed = false) {
    phase = next;
    root.dataset.state = next;
    panel.hidden = false;
    status.textContent = text;
    status.classList.toggle('error', failed);
    const inCall = next === 'connecting' || next === 'live';
    button.textContent = inCall ? 'Hang up' : options.label;
    button.classList.toggle('hang', inCall);
  }

  function caption(line: Line) {
    const last = captions.lastElementChild as HTMLDivElement | null;
    // The bot's words arrive sentence by sentence: one bubble per turn.
    if (last && last.dataset.speaker === line.speaker && line.speaker === 'assistant') {
      last.textContent = `${last.textContent} ${line.text}`;
    } else {
      const div = document.createElement('div');
      div.className = `line ${line.speaker}`;
      div.dataset.speaker = line.speaker;
      div.textContent = line.text;
      captions.append(div);
    }
    captions.scrollTop = captions.scrollHeight;
  }

  async function start() {
    captions.replaceChildren();
    show('connecting', 'Connecting…');
    let answer: Response;
    try {
      answer = await fetch(`${options.api}/api/v1/widget/calls`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: options.key }),
      });
    } catch {
      show('ended', 'The call could not start: the service cannot be reached.', true);
      return;
    }
    const body: unknown = await answer.json().catch(() => null);
    if (!answer.ok) {
      root.dataset.refusal = (body as { error?: { code?: string } } | null)?.error?.code ?? String(answer.status);
      show('ended', refusal(answer.status, body), true);
      return;
    }
    delete root.dataset.refusal;
    const accepted = body as { call_id: number; media_url: string };
    root.dataset.callId = String(accepted.call_id);
    call = new VoxCall(accepted.media_url, {
      onLine: caption,
      onState: (state, why) => {
        if (state === 'live') show('live', 'Connected: speak when you are ready.');
        else if (state === 'ended') show('ended', why ? `Call ended (${why}).` : 'Call ended.');
      },
    });
    try {
      await call.start();
    } catch {
      call.hangUp();
      show('ended', 'The call needs your microphone: allow it and try again.', true);
    }
  }

  button.textContent = options.label;
  button.addEventListener('click', () => {
    if (phase === 'connecting' || phase === 'live') call?.hangUp();
    else void start();
  });
  host.append(root);
  return root;
}

// Run as the page's script: mount once the page has a body.
const script = typeof document === 'undefined' ? null : (document.currentScript as HTMLScriptElement | null);
if (script) {
  const options = optionsOf(script);
  if (typeof options === 'string') {
    console.error(options);
  } else if (document.body) {
    mount(options);
  } else {
    document.addEventListener('DOMContentLoaded', () => mount(options));
  }
}
