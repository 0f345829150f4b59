/** `[HOST:]PORT` of the CO2 face. A bare port binds the hub's own host (loopback by default). */
import { isIP } from 'node:net';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export function parseListen(spec: string, defaultHost: string): ListenAddress {
  const s = spec.trim();
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  let host = defaultHost;
  let portText = s;
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
  } else if (s.includes(':')) {
    host = s.slice(0, s.lastIndexOf(':'));
    portText = s.slice(s.lastIndexOf(':') + 1);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new Error(`co2: ${JSON.stringify(spec)} is not [HOST:]PORT`);
  if (host === '' || host === '*') host = '0.0.0.0';
  if (host.includes(':') && isIP(host) !== 6) throw new Error(`co2: ${JSON.stringify(host)} is not an IPv6 address`);
  return { host, port: Number(portText) };
}

/** The address as a client's URL would write it. */
export function urlHost(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** A peer's address as the face compares it: IPv4-mapped IPv6 (::ffff:a.b.c.d) as plain IPv4. */
export function peerIp(remote: string | undefined): string {
  if (!remote) return '';
  return remote.startsWith('::ffff:') && isIP(remote.slice(7)) === 4 ? remote.slice(7) : remote;
}
