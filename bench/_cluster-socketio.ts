/**
 * socket.io for the cluster bench: server nodes (bench/_socketio-node.ts) as their own processes
 * pinned to one core and sharing one Redis through @socket.io/redis-adapter, and a bus-bench
 * Driver over socket.io-client, so bench/_bus-load.ts drives them as it drives muster. A topic is
 * a room: the publisher's client sits on the first node, subscribers go round the other nodes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { io as ioConnect, type Socket } from 'socket.io-client';
import type { Closer, Driver } from './_bus-drivers.js';

const NODE_SCRIPT = new URL('./_socketio-node.ts', import.meta.url).pathname;

export interface SocketIoNode {
  pid: number;
  url: string;
  kill(): Promise<void>;
}

/** Starts one node under `taskset -c core` and waits (at most 30 s) until it listens. */
export async function spawnSocketIoNode(redisUrl: string, core = 0): Promise<SocketIoNode> {
  const child: ChildProcess = spawn('taskset', ['-c', String(core), process.execPath, '--import', 'tsx', NODE_SCRIPT, redisUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-10_000); });
  const port = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`socket.io node did not start in 30 s: ${stderr}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    });
    void exited.then(() => { clearTimeout(timer); reject(new Error(`socket.io node exited: ${stderr}`)); });
  });
  return {
    pid: child.pid!, url: `http://127.0.0.1:${port}`,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; }
    },
  };
}

async function open(url: string): Promise<Socket> {
  const s = ioConnect(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', (err: Error) => reject(err));
  });
  return s;
}

function closer(s: Socket): Closer {
  return {
    close: () => new Promise<void>((resolve) => {
      if (s.disconnected) return resolve();
      s.once('disconnect', () => resolve());
      s.disconnect();
    }),
  };
}

/**
 * The publisher on nodes[0], subscriber i on nodes[1 + i % (n - 1)] (on nodes[0] when there is
 * one node). CPU counts every node and `redisPid`. Request/reply is not part of this comparison.
 */
export function socketIoDriver(nodes: readonly SocketIoNode[], redisPid: number): Driver {
  let nextSub = 0;
  const subscriberUrl = () => (nodes.length === 1 ? nodes[0]!.url : nodes[1 + (nextSub++ % (nodes.length - 1))]!.url);
  const unsupported = () => Promise.reject(new Error('socket.io driver: request/reply is not measured'));
  return {
    name: 'socket.io', serverPid: nodes[0]!.pid, serverPids: [...nodes.map((n) => n.pid), redisPid],
    async publisher(room) {
      const s = await open(nodes[0]!.url);
      return { publish: (p) => { s.emit('pub', room, p); }, close: closer(s).close };
    },
    async subscriber(room, onMessage) {
      const s = await open(subscriberUrl());
      s.on('m', (p: Buffer) => onMessage(p));
      await s.timeout(5_000).emitWithAck('join', room);
      return closer(s);
    },
    responder: unsupported,
    requester: unsupported,
  };
}
