// The Backend API client: typed from the Backend's OpenAPI document (schema.d.ts, generated), with the session's tokens, one refresh on a 401, and errors that name their field.
import type { components } from './schema';

export type { components };

export type TokenResponse = components['schemas']['TokenResponse'];
export type UserView = components['schemas']['UserView'];
export type BotView = components['schemas']['BotView'];
export type CallSummary = components['schemas']['CallSummary'];
export type CallDetail = components['schemas']['CallDetail'];
export type CampaignView = components['schemas']['CampaignView'];
export type ImportReport = components['schemas']['ImportReport'];

/// The Backend's base URL: `VITE_API_URL` at build time, else the page's own origin.
export const API_URL: string = (import.meta.env?.VITE_API_URL as string | undefined) ?? '';

/// A refused request: the HTTP status, the Backend's stable code, and the field it names.
export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

/// Where the session lives between page loads.
export interface SessionStore {
  load(): TokenResponse | null;
  save(session: TokenResponse | null): void;
}

export const browserSession: SessionStore = {
  load() {
    const text = globalThis.localStorage?.getItem('vox.session');
    return text ? (JSON.parse(text) as TokenResponse) : null;
  },
  save(session) {
    if (session) globalThis.localStorage?.setItem('vox.session', JSON.stringify(session));
    else globalThis.localStorage?.removeItem('vox.session');
  },
};

async function refused(response: Response): Promise<ApiError> {
  try {
    const body = await response.json();
    const error = body?.error ?? {};
    return new ApiError(response.status, error.code ?? 'unknown', error.message ?? response.statusText, error.field ?? undefined);
  } catch {
    return new ApiError(response.status, 'unknown', response.statusText || 'the request failed');
  }
}

export class Api {
  /// Called when the session is over (refresh refused): the app returns to sign-in.
  onSignedOut: () => void = () => {};

  constructor(
    public base: string = API_URL,
    private sessions: SessionStore = browserSession,
    private fetcher: typeof fetch = (...args) => fetch(...args),
  ) {}

  get session(): TokenResponse | null {
    return this.sessions.load();
  }

  async signIn(email: string, password: string): Promise<TokenResponse> {
    const session = await this.send<TokenResponse>('POST', '/api/v1/auth/login', { email, password }, false);
    this.sessions.save(session);
    return session;
  }

  signOut() {
    this.sessions.save(null);
    this.onSignedOut();
  }

  /// Signs out at the Backend too (every session of the user ends there), then here.
  async logOut() {
    const token = this.sessions.load()?.access_token;
    if (token) {
      await this.fetcher(`${this.base}/api/v1/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
    }
    this.signOut();
  }

  /// A JSON request with the access token; after a 401 the session is refreshed once and the
  /// request repeated; a refused refresh signs out.
  async send<T>(method: string, path: string, body?: unknown, authorised = true): Promise<T> {
    const attempt = async () => {
      const headers: Record<string, string> = {};
      if (body !== undefined) headers['content-type'] = 'application/json';
      const token = this.sessions.load()?.access_token;
      if (authorised && token) headers.authorization = `Bearer ${token}`;
      return this.fetcher(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    };
    let response = await attempt();
    if (response.status === 401 && authorised && (await this.refresh())) {
      response = await attempt();
    }
    if (!response.ok) {
      const error = await refused(response);
      if (response.status === 401 && authorised) this.signOut();
      throw error;
    }
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  /// A file the Backend sends (a CSV export), with the session's token.
  async download(path: string): Promise<Blob> {
    await this.send('GET', '/api/v1/auth/me');
    const token = this.sessions.load()?.access_token ?? '';
    const response = await this.fetcher(`${this.base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) throw await refused(response);
    return response.blob();
  }

  /// Uploads a file as the request body with progress (0–1) as it goes: XMLHttpRequest, since
  /// fetch reports no upload progress. The session is checked (and refreshed) first.
  async upload<T>(path: string, file: Blob, type: string, progress: (done: number) => void): Promise<T> {
    await this.send('GET', '/api/v1/auth/me');
    const token = this.sessions.load()?.access_token ?? '';
    return new Promise<T>((ok, fail) => {
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `${this.base}${path}`);
      xhr.setRequestHeader('content-type', type);
      xhr.setRequestHeader('authorization', `Bearer ${token}`);
      xhr.upload.onprogress = (e) => e.lengthComputable && progress(e.loaded / e.total);
      xhr.onerror = () => fail(new ApiError(0, 'network', 'the upload could not reach the Backend'));
      xhr.onload = () => {
        const body = (() => {
          try {
            return JSON.parse(xhr.responseText);
          } catch {
            return null;
          }
        })();
        if (xhr.status >= 200 && xhr.status < 300) return ok(body as T);
        const error = body?.error ?? {};
        fail(new ApiError(xhr.status, error.code ?? 'unknown', error.message ?? xhr.statusText, error.field ?? undefined));
      };
      xhr.send(file);
    });
  }

  private refreshing: Promise<boolean> | null = null;

  /// One refresh at a time: each refresh token works once, and the Backend takes a second use for
  /// a stolen copy and signs every session out. Requests that fail together share one refresh.
  private refresh(): Promise<boolean> {
    this.refreshing ??= this.refreshOnce().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async refreshOnce(): Promise<boolean> {
    const refresh_token = this.sessions.load()?.refresh_token;
    if (!refresh_token) return false;
    const response = await this.fetcher(`${this.base}/api/v1/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token }),
    });
    if (!response.ok) return false;
    this.sessions.save((await response.json()) as TokenResponse);
    return true;
  }
}

export const api = new Api();
