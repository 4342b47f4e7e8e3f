// Turn-taking events in the call page's transcript, in words: `system` lines whose detail is a turn verdict `{kind: "turn", complete, probability, inference_ms}` or an interruption verdict `{kind: "interruption", verdict, heard, paused_ms}` (the worker's post_call.rs).

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

/// A turn-taking event in words, with the test id the call page gives its line; null for any other line.
export function describeEvent(detail: unknown): { summary: string; testId: string } | null {
  const turn = describeTurn(detail);
  if (turn) return { summary: turn.summary, testId: 'turn-verdict' };
  const interruption = describeInterruption(detail);
  return interruption ? { summary: interruption, testId: 'interruption' } : null;
}
