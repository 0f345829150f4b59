/** `[HOST:]PORT` of the CO2 face. A bare port binds the hub's own host (loopback by default). */
import { isIP } from 'node:net';
import { parseHostPort, type HostPort } from '../host-port.js';

/** A bare port binds `defaultHost`; `:PORT` or `*:PORT` every interface. */
export function parseListen(spec: string, defaultHost: string): HostPort {
  const { host, port } = parseHostPort(spec, defaultHost, 'co2');
  return { host: host === '' || host === '*' ? '0.0.0.0' : host, port };
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
