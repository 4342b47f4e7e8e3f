// Unit tests of how the call page reads turn-taking events from the transcript: turn verdicts (a failed model too), interruption verdicts, and detail that is neither.
import { describe, expect, it } from 'vitest';
import { describeEvent, describeInterruption, describeTurn } from './turn';

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

describe('describeInterruption', () => {
  it('puts each verdict, what was heard and the pause in words', () => {
    expect(describeInterruption({ kind: 'interruption', verdict: 'backchannel', heard: 'Mhm.', paused_ms: 640.2 })).toBe('Backchannel, the bot went on: “Mhm.” (paused 640 ms)');
    expect(describeInterruption({ kind: 'interruption', verdict: 'false', heard: '', paused_ms: 900 })).toBe('False interruption, the bot went on (paused 900 ms)');
    expect(describeInterruption({ kind: 'interruption', verdict: 'real', heard: 'Wait.', paused_ms: 1200 })).toBe('Interrupted the bot: “Wait.” (paused 1200 ms)');
  });

  it('is null for an unknown verdict or another kind', () => {
    expect(describeInterruption({ kind: 'interruption', verdict: 'maybe' })).toBeNull();
    expect(describeInterruption({ kind: 'turn', complete: true })).toBeNull();
  });
});

describe('describeEvent', () => {
  it('tells turn verdicts and interruptions apart', () => {
    expect(describeEvent({ kind: 'turn', complete: true, probability: 0.9, inference_ms: 60 })?.testId).toBe('turn-verdict');
    expect(describeEvent({ kind: 'interruption', verdict: 'real', heard: 'Stop.', paused_ms: 400 })?.testId).toBe('interruption');
    expect(describeEvent({ name: 'book' })).toBeNull();
  });
});
