// The API client: one refresh on a 401 and the request repeated, sign-out when the refresh is refused, the Backend's field errors kept.
import { describe, expect, it } from 'vitest';
import { Api, ApiError, type SessionStore, type TokenResponse } from './client';

function session(access: string, refresh = 'r1'): TokenResponse {
  return {
    access_token: access,
    refresh_token: refresh,
    token_type: 'Bearer',
    expires_in: 900,
    user: { id: 1, email: 'ada@example.com', name: 'Ada', role: 'admin', disabled: false, created_at: '2026-11-24T00:00:00Z' },
  } as TokenResponse;
}

function memory(initial: TokenResponse | null): SessionStore & { current: TokenResponse | null } {
  return {
    current: initial,
    load() {
      return this.current;
    },
    save(s) {
      this.current = s;
    },
  };
}

type Seen = { url: string; auth?: string; body?: string };

/// A fetch that answers from `replies` in order and records what it was asked.
function scripted(replies: Array<[number, unknown]>) {
  const seen: Seen[] = [];
  const fetcher = (async (url: string, init: RequestInit) => {
    const headers = (init.headers ?? {}) as Record<string, string>;
    seen.push({ url, auth: headers.authorization, body: init.body as string | undefined });
    const [status, body] = replies.shift() ?? [500, {}];
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch;
  return { fetcher, seen };
}

describe('Api', () => {
  it('refreshes an expired access token once and repeats the request', async () => {
    const store = memory(session('old'));
    const { fetcher, seen } = scripted([
      [401, { error: { code: 'auth.expired', message: 'expired' } }],
      [200, session('new', 'r2')],
      [200, { items: [] }],
    ]);
    const api = new Api('http://vox', store, fetcher);
    const page = await api.send<{ items: unknown[] }>('GET', '/api/v1/bots');
    expect(page.items).toEqual([]);
    expect(seen.map((s) => s.url)).toEqual(['http://vox/api/v1/bots', 'http://vox/api/v1/auth/refresh', 'http://vox/api/v1/bots']);
    expect(seen[0].auth).toBe('Bearer old');
    expect(JSON.parse(seen[1].body!)).toEqual({ refresh_token: 'r1' });
    expect(seen[2].auth).toBe('Bearer new');
    expect(store.current?.refresh_token).toBe('r2');
  });

  it('shares one refresh among requests that fail together (a refresh token works once)', async () => {
    const store = memory(session('old'));
    let refreshes = 0;
    const fetcher = (async (url: string, init: RequestInit) => {
      const auth = ((init.headers ?? {}) as Record<string, string>).authorization;
      const reply = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
      if (url.endsWith('/auth/refresh')) {
        refreshes += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
        return reply(200, session('new', 'r2'));
      }
      return auth === 'Bearer new' ? reply(200, { items: [] }) : reply(401, { error: { code: 'auth.expired', message: 'expired' } });
    }) as unknown as typeof fetch;
    const api = new Api('http://vox', store, fetcher);
    const pages = await Promise.all([1, 2, 3].map(() => api.send<{ items: unknown[] }>('GET', '/api/v1/bots')));
    expect(pages.map((p) => p.items)).toEqual([[], [], []]);
    expect(refreshes).toBe(1);
  });

  it('signs out when the refresh is refused', async () => {
    const store = memory(session('old'));
    const { fetcher } = scripted([
      [401, { error: { code: 'auth.expired', message: 'expired' } }],
      [401, { error: { code: 'auth.invalid', message: 'refresh token revoked' } }],
      [401, { error: { code: 'auth.expired', message: 'expired' } }],
    ]);
    const api = new Api('http://vox', store, fetcher);
    let signedOut = false;
    api.onSignedOut = () => {
      signedOut = true;
    };
    await expect(api.send('GET', '/api/v1/bots')).rejects.toBeInstanceOf(ApiError);
    expect(signedOut).toBe(true);
    expect(store.current).toBeNull();
  });

  it("keeps the field the Backend's refusal names", async () => {
    const { fetcher } = scripted([[422, { error: { code: 'validation.invalid', message: 'must not be empty', field: 'spec.system_prompt' } }]]);
    const api = new Api('http://vox', memory(session('a')), fetcher);
    const error = (await api.send('POST', '/api/v1/bots', {}).catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect([error.status, error.code, error.field]).toEqual([422, 'validation.invalid', 'spec.system_prompt']);
  });
});
