/**
 * The bare `ws` relay the bench sets beside muster's request/reply: a WebSocket server that only
 * relays. A responder connects with `?serve=NAME`; a requester's binary message (8-byte id +
 * payload) goes to NAME's socket prefixed with the requester's u32 number, and the responder's
 * echo of that comes back to the requester without the prefix. One `ws.send` per message, no
 * batching, no validation, no names: what a hand-written relay on `ws` costs. Prints
 * "listening on PORT".
 */
import { WebSocketServer, type WebSocket } from 'ws';

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
const responders = new Map<string, WebSocket>();
const requesters = new Map<number, WebSocket>();
let next = 1;

wss.on('connection', (ws, req) => {
  const serve = new URL(req.url ?? '/', 'http://x').searchParams.get('serve');
  if (serve) {
    responders.set(serve, ws);
    ws.on('message', (data: Buffer) => requesters.get(data.readUInt32LE(0))?.send(data.subarray(4)));
    ws.on('close', () => { if (responders.get(serve) === ws) responders.delete(serve); });
    return;
  }
  const to = new URL(req.url ?? '/', 'http://x').searchParams.get('to') ?? '';
  const me = next++;
  requesters.set(me, ws);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(me, 0);
  ws.on('message', (data: Buffer) => responders.get(to)?.send(Buffer.concat([head, data])));
  ws.on('close', () => requesters.delete(me));
});
wss.on('listening', () => {
  const addr = wss.address();
  process.stdout.write(`listening on ${typeof addr === 'object' && addr ? addr.port : addr}\n`);
});
process.on('SIGTERM', () => { wss.close(); process.exit(0); });
