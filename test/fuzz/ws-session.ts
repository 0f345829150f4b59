/**
 * Shared plumbing of the WebSocket targets: a connection with its fixtures that is re-opened
 * when the hub closed it or a new hub replaced a crashed one, and the verdict on one exchange.
 */
import { isUtf8 } from 'node:buffer';
import { ERROR_CODES } from '../../src/errors.js';
import { crashSignature, type FuzzHub, type Live } from './hub.js';
import { FuzzPeer, type ExchangeEnd } from './peer.js';
import type { Report } from './check.js';
import { fault, ok, type Outcome } from './types.js';

/** Close codes that are the transport's answer, not the hub's: invalid UTF-8 in a text frame, a frame past 4 x maxMessageBytes. */
export const TRANSPORT_CLOSES = new Set([1007, 1009]);
const MAX_FRAME = 4 * 1024 * 1024;

/**
 * Whether the WebSocket layer (not the hub) may refuse this frame by closing: a text frame that is
 * not UTF-8 (1007) or a frame past 4 x maxMessageBytes (1009). The server then closes with
 * unread data (the sentinel) in its buffer, so the close frame may be lost to a reset: 1006.
 */
export const transportMayClose = (bytes: Uint8Array, binary: boolean): boolean => bytes.byteLength > MAX_FRAME || (!binary && !isUtf8(bytes));

export interface Member { readonly id: string; readonly name: string; readonly token: string }

export interface WsSession<F> {
  readonly live: Live;
  readonly peer: FuzzPeer;
  readonly fixtures: F;
}

/** A connection (and its fixtures) that is opened again when needed. */
export class WsSessions<F> {
  readonly #hub: FuzzHub;
  readonly #setup: (live: Live, peer: FuzzPeer, n: number) => Promise<F>;
  readonly #query: (n: number) => string;
  #current: WsSession<F> | null = null;
  #opened = 0;

  constructor(hub: FuzzHub, setup: (live: Live, peer: FuzzPeer, n: number) => Promise<F>, query: (n: number) => string = () => '') {
    this.#hub = hub;
    this.#setup = setup;
    this.#query = query;
  }

  get opened(): number {
    return this.#opened;
  }

  async get(): Promise<WsSession<F>> {
    const live = await this.#hub.live();
    const s = this.#current;
    if (s && s.live === live && s.peer.open) return s;
    s?.peer.terminate();
    const n = ++this.#opened;
    const peer = await FuzzPeer.open(live.wsUrl + this.#query(n), live.died);
    const fixtures = await this.#setup(live, peer, n);
    this.#current = { live, peer, fixtures };
    return this.#current;
  }

  /** Makes the next get() open a new connection. */
  drop(): void {
    this.#current?.peer.terminate();
    this.#current = null;
  }

  async close(): Promise<void> {
    await this.#current?.peer.close();
    this.#current = null;
  }
}

/** Registers a fixture member on a connection; throws when the hub refuses. */
export async function registerOn(peer: FuzzPeer, params: Record<string, unknown>): Promise<Member> {
  const reply = await peer.call('register', params, 10_000);
  const r = reply?.result as { id?: string; name?: string; token?: string } | undefined;
  if (!r?.id || !r.name || !r.token) throw new Error(`fixture register ${JSON.stringify(params).slice(0, 100)} got ${JSON.stringify(reply)?.slice(0, 200)}`);
  return { id: r.id, name: r.name, token: r.token };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The hub died: the fault, with its last output (waited for briefly, stderr trails the exit). */
export async function crashOutcome(live: Live): Promise<Outcome> {
  await sleep(100);
  const tail = live.logTail();
  return fault('crash', crashSignature(tail), `the hub exited; its last output:\n${tail.slice(-4000)}`);
}

/** Waits up to `ms` for the hub to die; true if it did. */
export async function diedWithin(live: Live, ms: number): Promise<boolean> {
  if (live.dead) return true;
  await Promise.race([live.died, sleep(ms)]);
  return live.dead;
}

/** A problem text without its excerpt, numbers blurred, so one fault has one signature. */
export const blur = (s: string): string => s.split(' — ')[0].replace(/\d+/g, 'N').slice(0, 100);

/**
 * The verdict on one exchange: a crash, then codes outside the catalogue, malformed answers,
 * INTERNAL answers, hangs and unexpected closes are faults; anything else is fine.
 */
export async function verdict(
  live: Live, peer: FuzzPeer, end: ExchangeEnd, r: Report, label: string, unanswered: readonly (string | number)[], mayClose = false,
): Promise<Outcome> {
  // A proper close frame (1007, 1009, ...) is the server speaking: no need to wait for an exit then.
  const suspicious = end === 'timeout' || (end === 'closed' && !(mayClose && peer.closeCode !== null && TRANSPORT_CLOSES.has(peer.closeCode)));
  if (end === 'died' || (suspicious && (await diedWithin(live, 300)))) return crashOutcome(live);
  const codes = [...r.codes];
  if (r.uncatalogued.length) return fault('uncatalogued', `${label}: ${r.uncatalogued[0]}`, r.problems.join('\n'), codes);
  if (r.problems.length) return fault('malformed', `${label}: ${blur(r.problems[0])}`, r.problems.join('\n'), codes);
  if (codes.includes('INTERNAL')) {
    await sleep(20);
    return fault('internal', `${label} answered INTERNAL`, `hub log: ${live.takeErrors().join('\n').slice(0, 3000)}`, codes);
  }
  if (end === 'timeout') return fault('hang', `${label}: no answer to a request sent after it`, 'the sentinel request got no answer in 5 s', codes);
  if (end === 'closed') {
    const code = peer.closeCode ?? 0;
    if (mayClose && (TRANSPORT_CLOSES.has(code) || code === 1006)) return ok(...codes, `close:${code}`);
    return fault('malformed', `${label}: connection closed with ${code}`, `close code ${code}`, codes);
  }
  if (unanswered.length) return fault('hang', `${label}: request not answered`, `no answer to id(s) ${unanswered.slice(0, 5).map((x) => JSON.stringify(x)).join(', ')} in 3 s`, codes);
  return ok(...codes);
}

export const isCatalogued = (c: string): boolean => (ERROR_CODES as string[]).includes(c);
