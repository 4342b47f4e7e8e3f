// Unit tests of the bot spec checks the console makes before sending, and of the version diff.
import { describe, expect, it } from 'vitest';
import { canonical, diffLines } from './diff';
import { blankSpec, checkSpec, providerChoices, providerNeeds, TTS_PROVIDERS, undeclared, usedVariables } from './spec';

describe('provider choices', () => {
  const offers = [
    { provider: 'espeak', available: true },
    { provider: 'piper', available: false, needs: 'a Piper voice on the workers (PIPER_VOICE_MODEL)' },
  ];

  it('offers only what the deployment runs, keeping a saved choice visible but disabled', () => {
    const values = (current: string | null) => providerChoices(TTS_PROVIDERS, offers, current).map((c) => c.value);
    expect(values('espeak')).not.toContain('piper');
    expect(values('espeak')).toContain('espeak');
    expect(providerChoices(TTS_PROVIDERS, offers, 'piper').find((c) => c.value === 'piper')).toEqual({ value: 'piper', label: 'piper (not on this deployment)', disabled: true });
    expect(providerNeeds(offers, 'piper')).toContain('PIPER_VOICE_MODEL');
    expect(providerNeeds(offers, 'espeak')).toBeNull();
  });

  it('offers every provider until the deployment has said what it runs', () => {
    expect(providerChoices(TTS_PROVIDERS, null, 'espeak').map((c) => c.value)).toEqual(TTS_PROVIDERS);
  });
});

describe('bot spec checks', () => {
  it('finds each placeholder once, with or without spaces', () => {
    expect(usedVariables('Hi {{name}}, {{ time }} and {{name}} again; {{9bad}}')).toEqual(['name', 'time']);
  });

  it('names an undeclared variable at the text that uses it, and accepts built-ins', () => {
    const spec = { ...blankSpec(), system_prompt: 'Call {{phone}} for {{name}}.' };
    expect(undeclared(spec)).toEqual(['name']);
    expect(checkSpec('Reminders', spec)['spec.system_prompt']).toContain('{{name}}');
    expect(checkSpec('Reminders', { ...spec, variables: ['name'] })).toEqual({});
  });

  it('refuses a webhook with a bad name, URL or schema by the fields the Backend uses', () => {
    const spec = {
      ...blankSpec(),
      system_prompt: 'Book.',
      tools: [{ type: 'webhook' as const, name: 'book slot', description: '', url: 'ftp://x', parameters: [] as unknown as { type: 'object' }, timeout_ms: 5000 }],
    };
    const errors = checkSpec('Bot', spec);
    expect(Object.keys(errors).sort()).toEqual(['spec.tools[0].name', 'spec.tools[0].parameters', 'spec.tools[0].url']);
  });

  it('wants a knowledge search to name a base and keep its limits, by the Backend fields', () => {
    const tool = { type: 'search_knowledge' as const, knowledge_base_ids: [] as number[], top_k: 0, timeout_ms: 50 };
    const spec = { ...blankSpec(), system_prompt: 'Answer from the FAQ.', tools: [tool] };
    expect(Object.keys(checkSpec('Bot', spec)).sort()).toEqual(['spec.tools[0].knowledge_base_ids', 'spec.tools[0].timeout_ms', 'spec.tools[0].top_k']);
    const good = { ...spec, tools: [{ ...tool, knowledge_base_ids: [3], top_k: 3, timeout_ms: 1500 }] };
    expect(checkSpec('Bot', good)).toEqual({});
  });

  it('refuses a flow whose start or a step target does not exist', () => {
    const spec = {
      ...blankSpec(),
      flow: {
        start: 'hello',
        steps: {
          ask: { type: 'ask' as const, prompt: 'Yes or no?', branches: [{ keywords: ['yes'], next: 'bye' }], otherwise: 'nowhere' },
          bye: { type: 'end' as const, text: 'Bye.' },
        },
      },
    };
    const errors = checkSpec('Survey', spec);
    expect(errors['spec.flow.start']).toContain('hello');
    expect(errors['spec.flow.steps.ask']).toContain('nowhere');
    expect(errors['spec.system_prompt']).toBeUndefined();
  });

  it('wants a message when the bot leaves one on a voicemail', () => {
    const spec = { ...blankSpec(), system_prompt: 'x', voicemail: { action: 'leave_message' as const, message: ' ' } };
    expect(checkSpec('Bot', spec)['spec.voicemail.message']).toBeDefined();
  });
});

describe('version diff', () => {
  it('keeps common lines and marks what was removed and added', () => {
    expect(diffLines('a\nb\nc', 'a\nc\nd')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'removed', text: 'b' },
      { kind: 'same', text: 'c' },
      { kind: 'added', text: 'd' },
    ]);
  });

  it('diffs specs by content, not by key order or absent values', () => {
    const one = canonical({ b: 1, a: { y: 2, x: null } });
    const two = canonical({ a: { y: 2 }, b: 1 });
    expect(one).toBe(two);
    expect(diffLines(one, two).every((l) => l.kind === 'same')).toBe(true);
  });
});
