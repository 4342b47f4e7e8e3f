import { describe, expect, it } from 'vitest';
import { optionsOf, refusal } from './main';

describe('the widget script tag', () => {
  it('takes the key from data-bot and the Backend from where the script came', () => {
    expect(optionsOf({ src: 'https://vox.example/widget.js', dataset: { bot: ' wk_1 ' } })).toEqual({ key: 'wk_1', api: 'https://vox.example', label: 'Talk to us' });
  });

  it('lets data-api and data-label override the defaults', () => {
    expect(optionsOf({ src: 'https://cdn.example/w.js', dataset: { bot: 'wk_1', api: 'https://api.example:8443/x', label: 'Call us' } })).toEqual({
      key: 'wk_1',
      api: 'https://api.example:8443',
      label: 'Call us',
    });
  });

  it('says what is missing instead of mounting a broken button', () => {
    expect(optionsOf({ src: 'https://vox.example/widget.js', dataset: {} })).toMatch(/data-bot/);
    expect(optionsOf({ src: '', dataset: { bot: 'wk_1' } })).toMatch(/data-api/);
  });
});

describe('a refused call', () => {
  it('reads as a visitor should read it, by the refusal code', () => {
    expect(refusal(403, { error: { code: 'widget.origin_refused', message: 'this widget may not be used on https://x' } })).toMatch(/not available on this site/);
    expect(refusal(429, { error: { code: 'widget.busy' } })).toMatch(/lines are busy/);
    expect(refusal(429, { error: { code: 'widget.visitor_rate_limited' } })).toMatch(/try again shortly/);
    expect(refusal(404, null)).toMatch(/not set up/);
    expect(refusal(500, 'garbage')).toMatch(/could not start/);
  });
});
