/**
 * The network half of `probe` liveness: one check of a target, an HTTP GET (any status below 500
 * counts as up), a TCP connect, or a WebSocket open, each within a timeout; a face adds checks of
 * its own by scheme (probeOnceWith: the CO2 face's XML-RPC ping for xmlrpc://). The core's prober
 * (core/registry/prober.ts) schedules them and keeps the results.
 */
import { connect as tcpConnect } from 'node:net';
import WebSocket from 'ws';

/** One check of a target; resolves if it answered within the timeout (the core's ProbeOnce). */
export type Check = (target: string, timeoutMs: number) => Promise<void>;

/** The built-in checks, then `extra` ones by URL scheme (`'xmlrpc:'`, with the colon). */
export function probeOnceWith(extra: Readonly<Record<string, Check>>): Check {
  return (target, timeoutMs) => {
    const scheme = new URL(target).protocol;
    return Object.hasOwn(extra, scheme) ? extra[scheme]!(target, timeoutMs) : probeOnce(target, timeoutMs);
  };
}

/** Resolves if the target answers within the timeout. */
export async function probeOnce(target: string, timeoutMs: number): Promise<void> {
  const url = new URL(target);
  switch (url.protocol) {
    case 'http:':
    case 'https:': {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      await res.body?.cancel();
      if (res.status >= 500) throw new Error(`HTTP ${res.status}`);
      return;
    }
    case 'tcp:':
      return new Promise((resolve, reject) => {
        const socket = tcpConnect({ host: url.hostname, port: Number(url.port) });
        const timer = setTimeout(() => { socket.destroy(); reject(new Error('timeout')); }, timeoutMs);
        socket.once('connect', () => { clearTimeout(timer); socket.destroy(); resolve(); });
        socket.once('error', (err) => { clearTimeout(timer); reject(err); });
      });
    case 'ws:':
    case 'wss:':
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
        ws.once('open', () => { ws.terminate(); resolve(); });
        ws.once('error', (err) => { ws.terminate(); reject(err); });
      });
    default:
      throw new Error(`unsupported probe target ${url.protocol}`);
  }
}
