/**
 * A TCP proxy in front of a redis-server that can silence the pub/sub connections going through
 * it: their bytes are dropped both ways while the sockets stay open, as on a half-open link (a
 * NAT that forgot the connection, a cable pulled without a reset). Other connections pass. It can
 * also cut every connection through it off for a while, as a network partition that heals: bytes
 * wait both ways (TCP would retransmit them) and go on, in order, when it heals.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair { client: Socket; server: Socket; subscriber: boolean; silent: boolean }
/** While partitioned: the bytes held back, each with the socket they are for. */
type Held = [Socket, Buffer][];

export interface RedisBlackhole {
  url: string;
  /** Silences the connections that have subscribed so far; returns how many. */
  silenceSubscribers(): number;
  /** Holds every byte through the proxy, both ways, until `heal`. */
  partition(): void;
  /** Sends what was held, in order, and passes bytes again. */
  heal(): void;
  close(): Promise<void>;
}

export async function redisBlackhole(redisPort: number): Promise<RedisBlackhole> {
  const pairs = new Set<Pair>();
  let held: Held | null = null;
  const pass = (to: Socket, b: Buffer) => { if (held) held.push([to, b]); else to.write(b); };
  const server: Server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    const pair: Pair = { client, server: upstream, subscriber: false, silent: false };
    pairs.add(pair);
    client.on('data', (b: Buffer) => {
      if (/SUBSCRIBE/i.test(b.toString('latin1'))) pair.subscriber = true;
      if (!pair.silent) pass(upstream, b);
    });
    upstream.on('data', (b: Buffer) => { if (!pair.silent) pass(client, b); });
    const end = () => { pairs.delete(pair); client.destroy(); upstream.destroy(); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    silenceSubscribers() {
      let n = 0;
      for (const p of pairs) if (p.subscriber && !p.silent) { p.silent = true; n++; }
      return n;
    },
    partition() {
      held ??= [];
    },
    heal() {
      const waiting = held ?? [];
      held = null;
      for (const [to, b] of waiting) if (!to.destroyed) to.write(b);
    },
    async close() {
      for (const p of pairs) { p.client.destroy(); p.server.destroy(); }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
