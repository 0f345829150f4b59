/** `[HOST:]PORT` as the legacy faces' flags take it (IPv6 hosts in brackets: `[::1]:5555`). */
import { isIP } from 'node:net';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * A bare port takes `defaultHost`; an empty spec takes `defaultPort` when the face has one. The
 * host comes back empty for `:PORT`: each face says what that means. `face` names the face in
 * errors, which stop the hub at start.
 */
export function parseHostPort(spec: string, defaultHost: string, face: string, defaultPort?: number): HostPort {
  const s = spec.trim();
  if (s === '' && defaultPort !== undefined) return { host: defaultHost, port: defaultPort };
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
    if (host.includes(':') && isIP(host) !== 6) throw new Error(`${face}: ${JSON.stringify(spec)} is not [HOST:]PORT (write IPv6 hosts as [::1]:PORT)`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new Error(`${face}: ${JSON.stringify(spec)} is not [HOST:]PORT`);
  return { host, port: Number(portText) };
}
