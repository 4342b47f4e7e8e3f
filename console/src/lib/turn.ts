// Turn-taking events in the call page's transcript, in words and on a time line: `system` lines whose detail is a turn verdict `{kind: "turn", complete, probability, inference_ms}`, an interruption verdict `{kind: "interruption", verdict, heard, paused_ms}` or an idle step `{kind: "idle", step: "prompt", number, of}` / `{kind: "idle", step: "goodbye"}` (the worker's post_call.rs).

export interface TurnView {
  complete: boolean;
  /// "complete (p 0.91, 70 ms)", or "complete (model failed)" when it had no probability.
  summary: string;
}

/// The verdict in `detail`, or null when `detail` is not one.
export function describeTurn(detail: unknown): TurnView | null {
  if (!detail || typeof detail !== 'object') return null;
  const d = detail as Record<string, unknown>;
  if (d.kind !== 'turn' || typeof d.complete !== 'boolean') return null;
  const verdict = d.complete ? 'complete' : 'not finished';
  const probability = typeof d.probability === 'number' ? `p ${d.probability.toFixed(2)}` : 'model failed';
  const ms = typeof d.inference_ms === 'number' ? `, ${Math.round(d.inference_ms)} ms` : '';
  return { complete: d.complete, summary: `Turn ${verdict} (${probability}${ms})` };
}

const INTERRUPTION_WORDS: Record<string, string> = {
  real: 'Interrupted the bot',
  backchannel: 'Backchannel, the bot went on',
  false: 'False interruption, the bot went on',
};

/// "Backchannel, the bot went on: “Mhm.” (paused 640 ms)", or null when `detail` is not an interruption verdict.
export function describeInterruption(detail: unknown): string | null {
  if (!detail || typeof detail !== 'object') return null;
  const d = detail as Record<string, unknown>;
  if (d.kind !== 'interruption' || typeof d.verdict !== 'string' || !(d.verdict in INTERRUPTION_WORDS)) return null;
  const heard = typeof d.heard === 'string' && d.heard.trim() ? `: “${d.heard.trim()}”` : '';
  const paused = typeof d.paused_ms === 'number' ? ` (paused ${Math.round(d.paused_ms)} ms)` : '';
  return `${INTERRUPTION_WORDS[d.verdict]}${heard}${paused}`;
}

/// "Caller quiet: prompt 1 of 2", "Caller still quiet: goodbye, call ended", or null when `detail` is not an idle step.
export function describeIdle(detail: unknown): string | null {
  if (!detail || typeof detail !== 'object') return null;
  const d = detail as Record<string, unknown>;
  if (d.kind !== 'idle') return null;
  if (d.step === 'goodbye') return 'Caller still quiet: goodbye, call ended';
  if (d.step === 'prompt' && typeof d.number === 'number' && typeof d.of === 'number') {
    return `Caller quiet: prompt ${d.number} of ${d.of}`;
  }
  return null;
}

export type EventKind = 'turn' | 'interruption' | 'idle';

/// A turn-taking event in words, its kind and the test id the call page gives its line; null for any other line.
export function describeEvent(detail: unknown): { summary: string; testId: string; kind: EventKind } | null {
  const turn = describeTurn(detail);
  if (turn) return { summary: turn.summary, testId: 'turn-verdict', kind: 'turn' };
  const interruption = describeInterruption(detail);
  if (interruption) return { summary: interruption, testId: 'interruption', kind: 'interruption' };
  const idle = describeIdle(detail);
  return idle ? { summary: idle, testId: 'idle', kind: 'idle' } : null;
}

export interface TimelineMark {
  atMs: number;
  /// Where on the line, 0–100.
  left: number;
  kind: EventKind;
  summary: string;
}

export interface Timeline {
  marks: TimelineMark[];
  /// "2 turn verdicts (1 not finished) · 1 interruption (1 backchannel) · 1 idle prompt"; empty when there are none.
  counts: string;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/// The turn-taking events of a transcript placed on the call's length (the last line's moment when
/// `durationMs` is unknown), with their counts.
export function turnTimeline(lines: { at_ms: number; detail?: unknown }[], durationMs?: number | null): Timeline {
  const events = lines.flatMap((line) => {
    const event = describeEvent(line.detail);
    return event ? [{ atMs: line.at_ms, event, detail: line.detail as Record<string, unknown> }] : [];
  });
  const end = Math.max(durationMs ?? 0, ...lines.map((l) => l.at_ms), 1);
  const marks = events.map(({ atMs, event }) => ({
    atMs,
    left: Math.min(100, Math.max(0, (atMs / end) * 100)),
    kind: event.kind,
    summary: event.summary,
  }));
  const turns = events.filter((e) => e.event.kind === 'turn');
  const unfinished = turns.filter((e) => e.detail.complete === false).length;
  const interruptions = events.filter((e) => e.event.kind === 'interruption');
  const byVerdict = ['real', 'false', 'backchannel']
    .map((v) => [v, interruptions.filter((e) => e.detail.verdict === v).length] as const)
    .filter(([, n]) => n > 0)
    .map(([v, n]) => `${n} ${v}`)
    .join(', ');
  const prompts = events.filter((e) => e.event.kind === 'idle' && e.detail.step === 'prompt').length;
  const parts = [
    turns.length ? `${plural(turns.length, 'turn verdict')}${unfinished ? ` (${unfinished} not finished)` : ''}` : '',
    interruptions.length ? `${plural(interruptions.length, 'interruption')} (${byVerdict})` : '',
    prompts ? plural(prompts, 'idle prompt') : '',
  ].filter(Boolean);
  return { marks, counts: parts.join(' · ') };
}
