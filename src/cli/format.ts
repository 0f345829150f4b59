/**
 * Output for people: aligned tables, short ages, one line per event. Every value is escaped here
 * (see visible.ts) before it is measured, so columns line up and a value cannot fake a line.
 */
import type { HubEvent, HubInfo, MemberView, RegistryEvent } from '../client/index.js';
import { visible } from './visible.js';

/** Pads columns to their widest cell; the header row is upper case. */
export function table(header: string[], rows: string[][]): string {
  const all = [header.map((h) => h.toUpperCase()), ...rows].map((r) => r.map(visible));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** 42s, 7m, 3h, 12d. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function memberTable(members: MemberView[], now = Date.now()): string {
  return table(['name', 'type', 'status', 'state', 'address', 'age'], members.map((m) => [m.name, m.type, m.status, m.lifecycle?.state ?? '-', m.address || '-', age(now - m.registeredAt)]));
}

/** `key  value` lines, for one member or the hub's info. */
export function fields(raw: [string, string][]): string {
  const entries = raw.map(([k, v]) => [visible(k), visible(v)] as const);
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

export function memberFields(m: MemberView, now = Date.now()): string {
  const l = m.liveness;
  const liveness = l.kind === 'ttl' ? `ttl ${l.ttlMs ?? '-'} ms` : l.kind === 'session' ? `session (grace ${l.graceMs ?? '-'} ms)` : `probe ${l.target} every ${l.intervalMs ?? '-'} ms`;
  const entries: [string, string][] = [
    ['name', m.name], ['id', m.id], ['type', m.type], ['status', m.status], ['address', m.address || '-'], ['liveness', liveness],
    ['meta', Object.entries(m.meta).map(([k, v]) => `${k}=${v}`).join(' ') || '-'],
    ['registered', `${new Date(m.registeredAt).toISOString()} (${age(now - m.registeredAt)} ago)`],
    ['last seen', `${new Date(m.lastSeen).toISOString()} (${age(now - m.lastSeen)} ago)`],
  ];
  if (m.lifecycle) entries.push(['lifecycle', m.lifecycle.state + (m.lifecycle.lastError ? ` (${m.lifecycle.lastError})` : '')]);
  const p = m.stats.probe;
  if (p) entries.push(['probe', `${p.count} ok, ${p.fails} failed, rtt avg ${p.avg === null ? '-' : p.avg.toFixed(1)} ms`]);
  const t = m.stats.traffic;
  if (t.sent || t.received) entries.push(['traffic', `${t.sent} sent, ${t.received} received, ${t.dropped} dropped`]);
  return fields(entries);
}

/**
 * `12  added    cam-1  alive` (removed events add the reason, and who removed it and why when
 * someone did: `evicted by admin: firmware recall`; lifecycle events the transition). Admin
 * events: `13  admin  log-level  by admin (http 127.0.0.1)  {"from":"info","to":"debug"}`.
 */
export function eventLine(e: HubEvent): string {
  if (e.type === 'admin') {
    const by = `by ${e.by}${e.from ? ` (${e.from.face} ${e.from.address})` : ''}`;
    return `${String(e.revision).padStart(6)}  ${new Date(e.at).toISOString()}  ${'admin'.padEnd(9)}  ${visible(e.action).padEnd(20)}  ${visible(by)}  ${visible(JSON.stringify(e.detail))}`;
  }
  const removed = (r: Extract<RegistryEvent, { type: 'removed' }>) => `${r.reason}${r.by ? ` by ${r.by}` : ''}${r.note ? `: ${r.note}` : ''}`;
  const extra = e.type === 'removed' ? removed(e) : e.type === 'lifecycle' ? `${e.from} -> ${e.to}` : e.member.status;
  return `${String(e.revision).padStart(6)}  ${new Date(e.at).toISOString()}  ${visible(e.type).padEnd(9)}  ${visible(e.member.name).padEnd(20)}  ${visible(e.member.type).padEnd(12)}  ${visible(String(extra))}`;
}

/** The cluster's hubs (`muster info` in cluster mode), sorted by id; the one asked is marked `<- this hub`. */
export function clusterTable(cluster: NonNullable<HubInfo['cluster']>, thisHub: string, now = Date.now()): string {
  const hubs = [...cluster.hubs].sort((a, b) => (a.hubId < b.hubId ? -1 : a.hubId > b.hubId ? 1 : 0));
  return table(['hub', 'url', 'started', ''], hubs.map((h) => [
    h.hubId, h.url, `${new Date(h.startedAt).toISOString()} (${age(now - h.startedAt)} ago)`, h.hubId === thisHub ? '<- this hub' : '',
  ]));
}
