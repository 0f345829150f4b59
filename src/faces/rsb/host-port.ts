/** `[HOST:]PORT` and `HOST:PORT` as the RSB flags take them (IPv6 hosts in brackets). */
import { isIP } from 'node:net';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** A bare port takes `defaultHost`; an empty spec the default port. */
export function parseHostPort(spec: string, defaultHost: string, defaultPort: number): HostPort {
  const s = spec.trim();
  let host = defaultHost;
  let portText = s === '' ? String(defaultPort) : s;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
  } else if (s.includes(':')) {
    const i = s.lastIndexOf(':');
    host = s.slice(0, i);
    portText = s.slice(i + 1);
    if (host.includes(':') && isIP(host) !== 6) throw new Error(`RSB: ${JSON.stringify(spec)} is not [HOST:]PORT (write IPv6 hosts as [::1]:PORT)`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535 || host === '') {
    throw new Error(`RSB: ${JSON.stringify(spec)} is not [HOST:]PORT`);
  }
  return { host, port: Number(portText) };
}
