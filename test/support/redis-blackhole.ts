/**
 * A TCP proxy in front of a redis-server that can silence the pub/sub connections going through
 * it: their bytes are dropped both ways while the sockets stay open, as on a half-open link (a
 * NAT that forgot the connection, a cable pulled without a reset). Other connections pass.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair { client: Socket; server: Socket; subscriber: boolean; silent: boolean }

export interface RedisBlackhole {
  url: string;
  /** Silences the connections that have subscribed so far; returns how many. */
  silenceSubscribers(): number;
  close(): Promise<void>;
}

export async function redisBlackhole(redisPort: number): Promise<RedisBlackhole> {
  const pairs = new Set<Pair>();
  const server: Server = createServer((client) => {
    const upstream = connect(redisPort, '127.0.0.1');
    const pair: Pair = { client, server: upstream, subscriber: false, silent: false };
    pairs.add(pair);
    client.on('data', (b: Buffer) => {
      if (/SUBSCRIBE/i.test(b.toString('latin1'))) pair.subscriber = true;
      if (!pair.silent) upstream.write(b);
    });
    upstream.on('data', (b: Buffer) => { if (!pair.silent) client.write(b); });
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
    async close() {
      for (const p of pairs) { p.client.destroy(); p.server.destroy(); }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
