/** `[HOST:]PORT` to a ZeroMQ tcp endpoint. A bare port binds the hub's own host (loopback by default). */
import { isIP } from 'node:net';
import { DEFAULT_PORT } from './codec.js';

export interface Endpoint {
  readonly url: string;
  readonly ipv6: boolean;
}

export function parseEndpoint(spec: string, defaultHost: string): Endpoint {
  const s = spec.trim();
  let host = defaultHost;
  let portText = s;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
  } else if (s.includes(':')) {
    const i = s.lastIndexOf(':');
    host = s.slice(0, i);
    portText = s.slice(i + 1);
  } else if (s === '') {
    portText = String(DEFAULT_PORT);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new Error(`plantimager: ${JSON.stringify(spec)} is not [HOST:]PORT`);
  }
  if (host === '') host = '*';
  const ipv6 = isIP(host) === 6 || host === '::';
  if (host === '::') host = '*';
  const shown = isIP(host) === 6 ? `[${host}]` : host;
  return { url: `tcp://${shown}:${Number(portText)}`, ipv6 };
}
