// Unit tests of how the call page reads a tool call from the transcript: a knowledge search's query and sources, a failed search, a webhook's arguments, and detail that is missing or malformed.
import { describe, expect, it } from 'vitest';
import { describeToolCall } from './toolcall';

describe('tool calls in the transcript', () => {
  it('shows a knowledge search with its query and each passage with its source', () => {
    const view = describeToolCall('search_knowledge', {
      name: 'search_knowledge',
      arguments: { query: 'parking', every_turn: true },
      result: { passages: [{ text: 'The garage on 14th Street.', source: 'parking.txt' }] },
      duration_ms: 84,
    });
    expect(view.summary).toBe('Knowledge searched before the reply: “parking”');
    expect(view.passages).toEqual([{ source: 'parking.txt', text: 'The garage on 14th Street.' }]);
    expect(view.durationMs).toBe(84);
    expect(view.error).toBeUndefined();
  });

  it('says why a search failed and that the bot asked for it', () => {
    const view = describeToolCall('search_knowledge', {
      name: 'search_knowledge',
      arguments: { query: 'fees' },
      result: { error: 'the knowledge search found nothing within 1500 ms' },
    });
    expect(view.summary).toBe('Knowledge searched by the bot: “fees”');
    expect(view.error).toContain('1500 ms');
    expect(view.passages).toEqual([]);
  });

  it('keeps a webhook’s arguments and result, and survives detail that is missing or malformed', () => {
    const view = describeToolCall('find_slots', { name: 'find_slots', arguments: { day: 'tuesday' }, result: { slots: ['9am'] } });
    expect(view.summary).toBe('Tool find_slots called');
    expect(view.arguments).toEqual({ day: 'tuesday' });
    expect(describeToolCall('end_call', undefined)).toMatchObject({ name: 'end_call', summary: 'Tool end_call called' });
    expect(describeToolCall('search_knowledge', { name: 'search_knowledge', result: { passages: 'no' } }).passages).toEqual([]);
  });
});
