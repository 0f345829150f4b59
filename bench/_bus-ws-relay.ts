/**
 * The bench's bare `ws` relay peer (bench/_bus-ws-relay-server.ts as its own process on the
 * servers' core): request/reply only, the floor a hand-written Node relay sets for muster's
 * requests. Requests carry an 8-byte id the requester matches the echo by.
 */
import { spawn } from 'node:child_process';
import WebSocket from 'ws';
import type { Driver } from './_bus-drivers.js';

const SERVER = new URL('./_bus-ws-relay-server.ts', import.meta.url).pathname;

export interface WsRelay {
  driver: Driver;
  kill(): Promise<void>;
}

async function open(url: string): Promise<WebSocket> {
  // Unmasked, as the SDK's frames in Node: the relay gets the same saving as muster's hub.
  const ws = new WebSocket(url, { perMessageDeflate: false, generateMask: (m) => { m.fill(0); } });
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  return ws;
}

const closeWs = (ws: WebSocket) => new Promise<void>((resolve) => {
  if (ws.readyState === WebSocket.CLOSED) return resolve();
  ws.once('close', () => resolve());
  ws.close();
});

/** Starts the relay under `taskset -c core`; its driver runs the request phases only. */
export async function startWsRelay(core: number): Promise<WsRelay> {
  const child = spawn('taskset', ['-c', String(core), process.execPath, '--import', 'tsx', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); const m = /listening on (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    child.once('exit', () => reject(new Error('ws relay exited')));
  });
  const base = `ws://127.0.0.1:${port}/`;
  const unsupported = () => Promise.reject(new Error('the bare ws relay only relays requests'));
  const driver: Driver = {
    name: 'ws-relay', serverPid: child.pid!, phases: ['request1', 'request16'],
    publisher: unsupported, subscriber: unsupported,
    async responder(service) {
      const ws = await open(`${base}?serve=${service}`);
      ws.on('message', (data: Buffer) => ws.send(data));
      return { close: () => closeWs(ws) };
    },
    async requester(service) {
      const ws = await open(`${base}?to=${service}`);
      const waiting = new Map<number, (b: Buffer) => void>();
      let id = 0;
      ws.on('message', (data: Buffer) => { const k = data.readDoubleLE(0); const w = waiting.get(k); if (w) { waiting.delete(k); w(data.subarray(8)); } });
      return {
        request: (p) => new Promise<Buffer>((resolve, reject) => {
          const k = ++id;
          const head = Buffer.alloc(8);
          head.writeDoubleLE(k, 0);
          const timer = setTimeout(() => { waiting.delete(k); reject(new Error('ws relay request timeout')); }, 5000);
          waiting.set(k, (b) => { clearTimeout(timer); resolve(b); });
          ws.send(Buffer.concat([head, p]));
        }),
        close: () => closeWs(ws),
      };
    },
  };
  return {
    driver,
    async kill() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
