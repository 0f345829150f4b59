/**
 * One subscription of the SDK's bus: opened at the hub (bus.subscribe), fed by the bus with every
 * message whose scope it covers, read through a handler or as an async iterable with a bounded
 * buffer (past it new messages are dropped, counted), opened again after a reconnect.
 */
import type { BusMessage } from './bus-message.js';
import type { MusterClient } from './types.js';

export interface SubscribeOptions {
  /** Also receive this connection's own publishes. */
  echo?: boolean;
  /** Messages buffered for a slow async-iterator reader; past it new ones are dropped (counted). Default 10000. */
  maxQueue?: number;
}

export interface Subscription extends AsyncIterable<BusMessage> {
  readonly scope: string;
  /** Messages dropped because the reader was slower than the buffer. */
  readonly dropped: number;
  /** Resolves once the hub has accepted the subscription (rejects with INVALID_SCOPE, ...). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** What the bus keeps of a subscription. */
export interface LocalSub {
  scope: string;
  push(m: BusMessage): void;
  /** Opens it again at the hub (after a reconnect). */
  reopen(): void;
}

export function openSubscription(
  client: MusterClient, subs: Set<LocalSub>, scope: string,
  a?: SubscribeOptions | ((m: BusMessage) => void), b?: SubscribeOptions,
): Subscription {
  const handler = typeof a === 'function' ? a : null;
  const options = (typeof a === 'function' ? b : a) ?? {};
  const maxQueue = options.maxQueue ?? 10_000;
  const echo = options.echo ?? false;
  const queue: BusMessage[] = [];
  let waiter: ((r: IteratorResult<BusMessage>) => void) | null = null;
  let closed = false;
  let dropped = 0;
  let hubId: number | null = null;
  const open = async (): Promise<void> => {
    const r = await client.call('bus.subscribe', { scope: local.scope, echo });
    hubId = r.subscription;
    local.scope = r.scope;
  };
  const local: LocalSub = {
    scope: scope.endsWith('/') ? scope : `${scope}/`,
    push: (m) => {
      if (closed) return;
      if (handler) { try { handler(m); } catch { /* a handler's bug must not break the client */ } return; }
      if (waiter) { const w = waiter; waiter = null; w({ value: m, done: false }); return; }
      if (queue.length >= maxQueue) { dropped++; return; }
      queue.push(m);
    },
    reopen: () => { hubId = null; void open().catch(() => {}); },
  };
  subs.add(local);
  const ready = open();
  ready.catch(() => { subs.delete(local); });
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    subs.delete(local);
    if (waiter) { const w = waiter; waiter = null; w({ value: undefined, done: true }); }
    if (hubId !== null && client.connected) await client.call('bus.unsubscribe', { subscription: hubId }).catch(() => {});
  };
  return {
    scope: local.scope, ready,
    get dropped() { return dropped; },
    close,
    [Symbol.asyncIterator]: (): AsyncIterator<BusMessage> => ({
      next: async () => {
        await ready;
        const m = queue.shift();
        if (m) return { value: m, done: false };
        if (closed) return { value: undefined, done: true };
        return new Promise((resolve) => { waiter = resolve; });
      },
      return: async () => { await close(); return { value: undefined, done: true }; },
    }),
  };
}
