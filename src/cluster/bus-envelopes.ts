/**
 * What crosses between the hubs of a cluster on their Redis channels, as JSON: messages (encoded
 * once per message and kind, whatever the number of hubs they go to), requests, lifecycle
 * commands, federation calls, their answers, and a hub's pings to itself.
 */
import { BusPayload, BusMessage, type MessageCodec, type MessageKind } from '../core/bus/message.js';
import type { LifecycleCommand } from '../core/ports.js';

/** What crosses between hubs: a message, a request or command, or an answer. */
export type Envelope =
  | { t: 'pub' | 'send' | 'bc'; m: WireMessage }
  | { t: 'req'; id: number; from: string; to: string; method: string; p: WirePayload; timeoutMs: number; replyTo: string }
  | { t: 'ctl'; id: number; name: string; kind: LifecycleCommand['type']; config: Record<string, unknown>; timeoutMs?: number; replyTo: string }
  /** A federation call (hub.forward's params) for a hub registered with the receiving hub, or for it. */
  | { t: 'fwd'; id: number; call: unknown; timeoutMs: number; replyTo: string }
  | { t: 'rep'; id: number; ok: boolean; p?: WirePayload; value?: unknown; error?: { code: string; message: string; details?: Record<string, unknown>; peer?: unknown } }
  /** A hub's message to itself: its subscription is alive while these come back. */
  | { t: 'ping' };

export interface WirePayload { j?: string; b?: string }
interface WireMessage { k: MessageKind; f: string; s: string | null; to: string | null; q: number; c: number; st: number; r: number; p: WirePayload }

export const wirePayload = (p: BusPayload): WirePayload => (p.isBytes ? { b: p.base64 } : { j: p.jsonText });
export const payloadOf = (w: WirePayload | undefined): BusPayload => (w?.b !== undefined ? BusPayload.base64(w.b) : BusPayload.json(w?.j ?? 'null'));

/** A message's envelope text, built once per message and kind, whatever the number of hubs it goes to. */
export const codecs = Object.fromEntries((['pub', 'send', 'bc'] as const).map((t) => [t, {
  name: `cluster-${t}`,
  encode: (m: BusMessage) => JSON.stringify({ t, m: { k: m.kind, f: m.from, s: m.scope, to: m.to, q: m.seq, c: m.created, st: m.sent, r: m.received, p: wirePayload(m.payload) } }),
} satisfies MessageCodec<string>])) as Record<'pub' | 'send' | 'bc', MessageCodec<string>>;

export function messageOf(m: WireMessage): BusMessage {
  return new BusMessage(m.k, m.f, m.s, m.to, m.q, m.c, m.st, m.r, payloadOf(m.p));
}

/** A hub's message to itself: its subscription is alive while these come back. */
export const PING = JSON.stringify({ t: 'ping' });

/** Why a message between hubs was lost, as far as this hub can tell (Redis pub/sub never says). */
export type BusDropReason = 'queue-full' | 'redis-error' | 'no-subscriber' | 'no-member' | 'unreadable';
export const NO_DROPS: Record<BusDropReason, number> = { 'queue-full': 0, 'redis-error': 0, 'no-subscriber': 0, 'no-member': 0, unreadable: 0 };
