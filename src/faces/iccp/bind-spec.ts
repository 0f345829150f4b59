/**
 * Where ICCP endpoints are bound. Declared endpoints are full ZeroMQ addresses; endpoints handed
 * out on demand come from one bind spec (config `iccp`):
 *   tcp://HOST:*        a port the system picks (default tcp://127.0.0.1:*)
 *   tcp://HOST:LO-HI    the first free port of a range
 *   ipc:///DIR/         ipc:///DIR/NAME, one socket file per component
 * Only tcp:// and ipc:// (PAIR cannot be reached over anything else from another process).
 */
import { isIP } from 'node:net';

export const DEFAULT_BIND = 'tcp://127.0.0.1:*';

export type BindSpec =
  | { readonly kind: 'tcp'; readonly host: string; readonly ports: 'any' | { readonly lo: number; readonly hi: number } }
  | { readonly kind: 'ipc'; readonly dir: string };

const TCP = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\*|\d{1,5})(?:-(\d{1,5}))?$/;

export function parseBindSpec(spec: string): BindSpec {
  const s = spec.trim();
  if (s.startsWith('ipc://')) {
    const dir = s.slice('ipc://'.length);
    if (!dir.startsWith('/') || !dir.endsWith('/')) throw new Error(`iccp: ${JSON.stringify(spec)}: an ipc bind spec is ipc:///DIR/ (absolute, ending in /)`);
    return { kind: 'ipc', dir };
  }
  const m = TCP.exec(s);
  if (!m) throw new Error(`iccp: ${JSON.stringify(spec)} is not tcp://HOST:*, tcp://HOST:LO-HI or ipc:///DIR/`);
  const host = m[1]!;
  if (m[2] === '*') {
    if (m[3] !== undefined) throw new Error(`iccp: ${JSON.stringify(spec)}: * takes no range`);
    return { kind: 'tcp', host, ports: 'any' };
  }
  const lo = Number(m[2]);
  const hi = m[3] === undefined ? lo : Number(m[3]);
  if (lo < 1 || hi > 65535 || hi < lo) throw new Error(`iccp: ${JSON.stringify(spec)}: ports must be 1-65535, LO <= HI`);
  return { kind: 'tcp', host, ports: { lo, hi } };
}

/** Candidate addresses for component `name`, in the order to try; at most `limit` of them. */
export function candidates(spec: BindSpec, name: string, limit = 1024): string[] {
  if (spec.kind === 'ipc') return [`ipc://${spec.dir}${name}`];
  if (spec.ports === 'any') return [`tcp://${spec.host}:*`];
  const out: string[] = [];
  for (let p = spec.ports.lo; p <= spec.ports.hi && out.length < limit; p++) out.push(`tcp://${spec.host}:${p}`);
  return out;
}

/** A declared endpoint: tcp://HOST:PORT (a fixed port) or ipc:///PATH. */
export function checkEndpoint(endpoint: string): string {
  const e = endpoint.trim();
  if (/^ipc:\/\/\/[^\x00-\x1f]+$/.test(e)) return e;
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(e);
  if (m && Number(m[2]) >= 1 && Number(m[2]) <= 65535) return e;
  throw new Error(`iccp: endpoint ${JSON.stringify(endpoint)} is not tcp://HOST:PORT or ipc:///PATH`);
}

/** Whether an address binds an IPv6 host (the socket needs ipv6 on). */
export function isIpv6(endpoint: string): boolean {
  const m = /^tcp:\/\/\[([^\]]+)\]/.exec(endpoint);
  return m !== null && isIP(m[1]!) === 6;
}
