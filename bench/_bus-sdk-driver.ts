/**
 * The bus bench driver over the SDK (`muster/client`) exactly as a user writes it: connect,
 * register, `bus(c).publish` (fire-and-forget; `await flush()` when it returns false),
 * `subscribe` with a handler, `onRequest`, `request`. Payloads are Uint8Arrays end to end.
 */
import { bus, connect, type MusterClient } from '../src/client/index.js';
import type { Driver } from './_bus-drivers.js';

export function sdkDriver(serverPid: number, url: string, prefix = 'sdk'): Driver {
  let n = 0;
  const ids = new WeakMap<MusterClient, string>();
  const member = async (name: string): Promise<MusterClient> => {
    const c = await connect({ url, reconnect: false });
    ids.set(c, (await c.register({ name, type: 'bench', exclusive: true })).id);
    return c;
  };
  // Unregistered first, so the name is free at once for the next phase.
  const close = async (c: MusterClient) => { await c.unregister(ids.get(c)!).catch(() => {}); await c.close(); };
  const closer = (c: MusterClient) => ({ close: () => close(c) });
  // The load generator reads Buffers (readDoubleLE); a view over the SDK's Uint8Array, no copy.
  const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  return {
    name: 'muster-sdk', serverPid,
    async publisher(topic) {
      const c = await member(`${prefix}-pub-${n++}`);
      const b = bus(c);
      let waiting: Promise<void> | null = null;
      return {
        // The load generator publishes synchronously; past the high-water mark it waits for the flush it starts.
        publish: (p) => { if (!b.publish(topic, p) && !waiting) waiting = b.flush().finally(() => { waiting = null; }); },
        close: async () => { await b.flush(); await close(c); },
      };
    },
    async subscriber(topic, onMessage) {
      const c = await member(`${prefix}-sub-${n++}`);
      await bus(c).subscribe(topic, (m) => onMessage(asBuffer(m.data as Uint8Array))).ready;
      return closer(c);
    },
    async responder(service) {
      const c = await member(service);
      bus(c).onRequest('echo', (p) => p);
      return closer(c);
    },
    async requester(service) {
      const c = await member(`${prefix}-req-${n++}`);
      const b = bus(c);
      return {
        request: async (p) => asBuffer(await b.request<Uint8Array>(service, 'echo', p, { timeoutMs: 5000 })),
        close: () => close(c),
      };
    },
  };
}
