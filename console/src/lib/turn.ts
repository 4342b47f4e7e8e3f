// A turn verdict in the call page's transcript: a `system` line whose detail is `{kind: "turn", complete, probability, inference_ms}` (the worker's post_call.rs), in words.

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
