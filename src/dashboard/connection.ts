/**
 * The page's one connection to the hub: the SDK's client over the hub's WebSocket API, on the
 * page's own origin. The first connect is retried until the hub answers; after that the SDK
 * reconnects and resumes watches by itself. A token (kept in sessionStorage, so it goes with the
 * tab) is presented as the SDK presents it; changing it opens a new client, and the pages start
 * over on it (`generation`).
 */
import { connect, type MusterClient } from '../client/index.js';

export type LinkState = 'connecting' | 'connected' | 'reconnecting';

export interface ConnectionState {
  readonly link: LinkState;
  /** The last reason the link dropped or could not open. */
  readonly reason: string;
  /** Bumped for each new client: pages keyed by it start over. */
  readonly generation: number;
  readonly token: string | null;
  /** The hub's answer to `auth`: is the token the admin token? */
  readonly admin: boolean;
}

const TOKEN_KEY = 'muster.token';
const RETRY_MAX_MS = 5_000;

export class HubConnection {
  readonly #url: string;
  readonly #listeners = new Set<() => void>();
  #client: MusterClient | null = null;
  #state: ConnectionState;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(url: string) {
    this.#url = url;
    this.#state = { link: 'connecting', reason: '', generation: 0, token: readToken(), admin: false };
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The current client; pages only render once there is one. */
  get client(): MusterClient | null {
    return this.#client;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => { this.#listeners.delete(listener); };
  }

  start(): void {
    void this.#open(0);
  }

  /** A new token (null forgets it): kept for this tab, and a new client presents it. */
  setToken(token: string | null): void {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
    const old = this.#client;
    this.#client = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#set({ token, admin: false, link: 'connecting' });
    void old?.close();
    void this.#open(0);
  }

  async #open(attempt: number): Promise<void> {
    const token = this.#state.token;
    try {
      const client = await connect({ url: this.#url, token: token ?? undefined, reconnect: { initialDelayMs: 250, maxDelayMs: 2_000 } });
      if (token !== this.#state.token) { void client.close(); return; }
      const admin = token ? await client.call('auth', { token }).then((r) => (r as { admin?: boolean }).admin === true, () => false) : false;
      client.on('status', (s) => {
        if (s.type === 'disconnected' || s.type === 'reconnecting') this.#set({ link: 'reconnecting', reason: s.type === 'disconnected' ? s.reason : this.#state.reason });
        else if (s.type === 'reconnected' || s.type === 'connected') this.#set({ link: 'connected' });
      });
      this.#client = client;
      this.#set({ link: 'connected', admin, reason: '', generation: this.#state.generation + 1 });
    } catch (err) {
      this.#set({ link: attempt === 0 ? 'connecting' : 'reconnecting', reason: (err as Error).message });
      const delay = Math.min(RETRY_MAX_MS, 250 * 2 ** attempt);
      this.#timer = setTimeout(() => void this.#open(attempt + 1), delay);
    }
  }

  #set(patch: Partial<ConnectionState>): void {
    this.#state = { ...this.#state, ...patch };
    for (const l of this.#listeners) l();
  }
}

function readToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the token lives as long as the page
  }
}
