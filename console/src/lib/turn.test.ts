// Unit tests of how the call page reads turn-taking events from the transcript: turn verdicts (a failed model too), interruption verdicts, and detail that is neither.
import { describe, expect, it } from 'vitest';
import { describeEvent, describeIdle, describeInterruption, describeTurn, turnTimeline } from './turn';

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

describe('describeIdle', () => {
  it('puts prompts and the goodbye in words', () => {
    expect(describeIdle({ kind: 'idle', step: 'prompt', number: 1, of: 2 })).toBe('Caller quiet: prompt 1 of 2');
    expect(describeIdle({ kind: 'idle', step: 'goodbye' })).toBe('Caller still quiet: goodbye, call ended');
    expect(describeIdle({ kind: 'idle', step: 'nap' })).toBeNull();
    expect(describeEvent({ kind: 'idle', step: 'goodbye' })?.testId).toBe('idle');
  });
});

describe('turnTimeline', () => {
  const lines = [
    { at_ms: 0 },
    { at_ms: 1000, detail: { kind: 'turn', complete: false, probability: 0.2, inference_ms: 50 } },
    { at_ms: 2000, detail: { kind: 'turn', complete: true, probability: 0.9, inference_ms: 50 } },
    { at_ms: 3000, detail: { kind: 'interruption', verdict: 'backchannel', heard: 'Mhm.', paused_ms: 500 } },
    { at_ms: 6000, detail: { kind: 'idle', step: 'prompt', number: 1, of: 2 } },
  ];

  it('places each event on the call and counts them by kind', () => {
    const timeline = turnTimeline(lines, 8000);
    expect(timeline.marks.map((m) => [m.kind, m.left])).toEqual([
      ['turn', 12.5],
      ['turn', 25],
      ['interruption', 37.5],
      ['idle', 75],
    ]);
    expect(timeline.counts).toBe('2 turn verdicts (1 not finished) · 1 interruption (1 backchannel) · 1 idle prompt');
  });

  it('uses the last line as the end when the length is unknown, and is empty without events', () => {
    expect(turnTimeline(lines, null).marks.at(-1)?.left).toBe(100);
    expect(turnTimeline([{ at_ms: 10 }], 100)).toEqual({ marks: [], counts: '' });
  });
});
