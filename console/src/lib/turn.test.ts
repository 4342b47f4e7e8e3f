// Unit tests of how the call page reads a turn verdict from the transcript: a verdict in words, a failed model, and detail that is not a verdict.
import { describe, expect, it } from 'vitest';
import { describeTurn } from './turn';

describe('describeTurn', () => {
  it('puts a verdict, its probability and its cost in words', () => {
    expect(describeTurn({ kind: 'turn', complete: false, probability: 0.241, inference_ms: 70.4 })).toEqual({
      complete: false,
      summary: 'Turn not finished (p 0.24, 70 ms)',
    });
  });

  it('says when the model failed and the turn was taken as complete', () => {
    expect(describeTurn({ kind: 'turn', complete: true, probability: null, inference_ms: 3 })?.summary).toBe('Turn complete (model failed, 3 ms)');
  });

  it('is null for anything that is not a turn verdict', () => {
    expect(describeTurn(null)).toBeNull();
    expect(describeTurn({ name: 'search_knowledge' })).toBeNull();
    expect(describeTurn({ kind: 'turn' })).toBeNull();
  });
});
