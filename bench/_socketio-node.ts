/**
 * One socket.io server node for `npm run bench -- cluster`, run as its own process:
 * `node --import tsx bench/_socketio-node.ts redis://127.0.0.1:PORT`. Nodes share rooms through
 * @socket.io/redis-adapter (one Redis pub/sub client pair each). A client sends `join` (room, ack)
 * to enter a room and `pub` (room, payload) to have the payload emitted as `m` to everyone in it,
 * on every node. Prints "listening on PORT" once it accepts connections.
 */
import { createServer } from 'node:http';
import { createClient } from '@redis/client';
import { createAdapter } from '@socket.io/redis-adapter';
import { Server } from 'socket.io';

const url = process.argv[2];
if (!url) {
  process.stderr.write('usage: _socketio-node.ts REDIS_URL\n');
  process.exit(2);
}
const pub = createClient({ url });
const sub = pub.duplicate();
for (const c of [pub, sub]) c.on('error', (err: unknown) => process.stderr.write(`redis: ${(err as Error).message}\n`));
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false, adapter: createAdapter(pub, sub) });
io.on('connection', (socket) => {
  socket.on('join', (room: string, ack: () => void) => {
    void Promise.resolve(socket.join(room)).then(() => ack());
  });
  socket.on('pub', (room: string, payload: Buffer) => {
    io.to(room).emit('m', payload);
  });
});
http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  process.stdout.write(`listening on ${typeof address === 'object' && address ? address.port : 0}\n`);
});
const stop = () => {
  void io.close();
  void Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
