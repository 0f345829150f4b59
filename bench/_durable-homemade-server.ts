/**
 * The registry a team writes for itself when it does not pick muster: a WebSocket JSON-RPC server
 * on `ws` whose `register` writes to Redis (`appendfsync always`) what the Redis side of the
 * durable bench writes (the name taken with HSETNX, the record with HSET, the event with XADD, in
 * one MULTI) and answers the member's id, name and token (a random token, kept as its SHA-256, as
 * the hub does). It answers once Redis has answered, so once the write is on the disk. Nothing
 * else: no validation beyond JSON, no liveness, no watchers, no limits. Prints "listening on PORT".
 *
 * Run as a child: HOMEMADE_REDIS_URL=redis://... node --import tsx bench/_durable-homemade-server.ts
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createClient } from '@redis/client';
import { WebSocketServer } from 'ws';

interface Request { id?: unknown; method?: unknown; params?: { name?: unknown; type?: unknown; liveness?: unknown } }

const redis = createClient({ url: process.env.HOMEMADE_REDIS_URL });
redis.on('error', () => {});
await redis.connect();

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data: Buffer) => {
    let req: Request;
    try {
      req = JSON.parse(data.toString()) as Request;
    } catch {
      return ws.send('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}');
    }
    const p = req.params ?? {};
    if (req.method !== 'register' || typeof p.name !== 'string' || typeof p.type !== 'string') {
      return ws.send(JSON.stringify({ jsonrpc: '2.0', id: req.id ?? null, error: { code: -32602, message: 'register {name, type} only' } }));
    }
    const id = randomUUID();
    const token = randomBytes(24).toString('base64url');
    const name = p.name;
    redis.multi()
      .hSetNX('names', name, id)
      .hSet(`member:${id}`, { name, type: p.type, address: '', meta: '{}', liveness: JSON.stringify(p.liveness ?? {}), tokenHash: createHash('sha256').update(token).digest('hex'), registeredAt: Date.now(), extra: '{}' })
      .xAdd('events', '*', { json: `{"type":"added","member":{"id":"${id}","name":"${name}"}}` }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 10_000 } })
      .exec()
      .then((replies) => {
        ws.send(Number(replies[0]) === 0
          ? JSON.stringify({ jsonrpc: '2.0', id: req.id, error: { code: -32000, message: 'name taken' } })
          : JSON.stringify({ jsonrpc: '2.0', id: req.id, result: { id, name, token } }));
      }, (err: Error) => ws.send(JSON.stringify({ jsonrpc: '2.0', id: req.id, error: { code: -32000, message: err.message } })));
  });
});
wss.on('listening', () => process.stdout.write(`listening on ${(wss.address() as { port: number }).port}\n`));
