/**
 * RSB clients for the bus load generator: raw TCP, the 4-byte handshake read, frames built with
 * the face's encoder (a fresh event id each), the frames of one turn written together (as the
 * other drivers batch). Subscribers count whole frames; every RSB client receives every event,
 * as on a real RSB socket bus, so a topic is only the scope the publisher writes on.
 */
import { connect, type Socket } from 'node:net';
import { encodeFrame } from '../src/faces/rsb/notification.js';
import type { Closer, Driver, Publisher } from './_bus-drivers.js';

const EMPTY = Buffer.alloc(0);

async function open(port: number, onFrame: ((body: Buffer) => void) | null): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('error', reject); });
  let pending = EMPTY;
  let handshake = 4;
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      if (handshake) {
        const n = Math.min(handshake, buf.length);
        handshake -= n;
        buf = buf.subarray(n);
        if (!handshake) resolve();
      }
      let pos = 0;
      while (buf.length - pos >= 4) {
        const len = buf.readUInt32LE(pos);
        if (buf.length - pos - 4 < len) break;
        onFrame?.(buf.subarray(pos + 4, pos + 4 + len));
        pos += 4 + len;
      }
      pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : EMPTY;
    });
  });
  return socket;
}

const closeSocket = (s: Socket) => new Promise<void>((resolve) => { s.once('close', () => resolve()); s.end(); setTimeout(() => s.destroy(), 1000).unref(); });
const scopeOf = (topic: string) => `/${topic.split(/[/.]/).filter(Boolean).join('/')}/`;

export function rsbDriver(serverPid: number, port: number): Driver {
  const sender = Buffer.from('5253422d62656e63682d73656e646572', 'hex');
  let seq = 0;
  const unsupported = () => Promise.reject(new Error('the RSB bench measures fan-out only'));
  return {
    name: 'rsb', serverPid,
    async publisher(topic): Promise<Publisher> {
      const socket = await open(port, null);
      const scope = scopeOf(topic);
      let batch: Buffer[] = [];
      let queued = false;
      const flush = () => { queued = false; const b = batch; batch = []; socket.write(b.length === 1 ? b[0]! : Buffer.concat(b)); };
      return {
        publish(payload) {
          const now = Math.round((performance.timeOrigin + performance.now()) * 1000);
          batch.push(encodeFrame({ eventId: { senderId: sender, sequenceNumber: ++seq }, scope, wireSchema: 'bytes', data: payload, metaData: { createTime: now, sendTime: now } }));
          if (batch.length >= 1000) flush();
          else if (!queued) { queued = true; queueMicrotask(flush); }
        },
        close: () => closeSocket(socket),
      };
    },
    async subscriber(_topic, onMessage): Promise<Closer> {
      const socket = await open(port, () => onMessage(EMPTY));
      return { close: () => closeSocket(socket) };
    },
    responder: unsupported,
    requester: unsupported,
  };
}
