/** `[HOST:]PORT` to a ZeroMQ tcp endpoint. A bare port binds the hub's own host (loopback by default). */
import { isIP } from 'node:net';
import { parseHostPort } from '../host-port.js';
import { DEFAULT_PORT } from './codec.js';

export interface Endpoint {
  readonly url: string;
  readonly ipv6: boolean;
}

export function parseEndpoint(spec: string, defaultHost: string): Endpoint {
  const { port, ...at } = parseHostPort(spec, defaultHost, 'plantimager', DEFAULT_PORT);
  let host = at.host === '' ? '*' : at.host;
  const ipv6 = isIP(host) === 6 || host === '::';
  if (host === '::') host = '*';
  const shown = isIP(host) === 6 ? `[${host}]` : host;
  return { url: `tcp://${shown}:${port}`, ipv6 };
}
