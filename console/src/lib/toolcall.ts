// What a call's transcript says about a tool call (its `detail`): the knowledge search's query, passages and their sources, or a webhook's arguments and result, and the error when it failed.

export type Passage = { source: string; text: string };

export type ToolCallView = {
  name: string;
  /// One line: what was asked.
  summary: string;
  /// The error the tool gave back, if it failed.
  error?: string;
  /// A knowledge search's passages, best first.
  passages?: Passage[];
  /// A webhook's arguments and result, for the curious.
  arguments?: unknown;
  result?: unknown;
  durationMs?: number;
};

const record = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/// Reads a tool entry's `detail` as the worker wrote it (`name`, `arguments`, `result`, `duration_ms`).
export function describeToolCall(text: string, detail: unknown): ToolCallView {
  const d = record(detail);
  const name = typeof d.name === 'string' ? d.name : text;
  const args = record(d.arguments);
  const result = record(d.result);
  const error = typeof result.error === 'string' ? result.error : undefined;
  const durationMs = typeof d.duration_ms === 'number' ? d.duration_ms : undefined;
  if (name === 'search_knowledge') {
    const query = typeof args.query === 'string' ? args.query : '';
    const when = args.every_turn === true ? 'before the reply' : 'by the bot';
    const passages = (Array.isArray(result.passages) ? result.passages : []).map((p) => {
      const r = record(p);
      return { source: typeof r.source === 'string' ? r.source : 'unknown source', text: typeof r.text === 'string' ? r.text : '' };
    });
    return { name, summary: `Knowledge searched ${when}: “${query}”`, error, passages, durationMs };
  }
  return { name, summary: `Tool ${name} called`, error, arguments: d.arguments, result: d.result, durationMs };
}
