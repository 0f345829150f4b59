/** One member: its record and meta, probe round trips, message stats, lifecycle history, recent events; commands for a component. */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { LifecycleRecord, MemberView, MusterClient, RegistryEvent } from '../../client/index.js';
import { Chart } from '../chart.js';
import { ago, clock, count } from '../format.js';
import { useClient, usePoll, useTick } from '../hooks.js';
import { html } from '../html.js';
import type { Route } from '../router.js';
import { checkConfig, ConfigEditor } from './config-editor.js';
import { configureOne, Outcomes, stopOne, type Outcome } from './control-results.js';
import { StateBadge, StatusBadge } from './members.js';

const RECENT = 50;
const RTT_KEEP = 300;

/** The member's own events, the last ones the hub still keeps, then live. */
function useMemberEvents(client: MusterClient, name: string): readonly RegistryEvent[] {
  const [events, setEvents] = useState<readonly RegistryEvent[]>([]);
  useEffect(() => {
    let stopped = false;
    let close = (): void => {};
    const follow = async (since: number): Promise<void> => {
      const watch = client.watch({ name }, { since });
      close = () => void watch.close();
      try {
        for await (const e of watch) {
          if (stopped) return;
          setEvents((old) => [e, ...old].slice(0, RECENT));
        }
      } catch (err) {
        // Asked for more than the hub keeps: start at the oldest it has.
        const oldest = (err as { details?: { oldest?: unknown } }).details?.oldest;
        if (!stopped && typeof oldest === 'number') await follow(oldest);
      }
    };
    void client.info().then((i) => follow(Math.max(0, i.revision - 10_000)), () => {});
    return () => { stopped = true; close(); };
  }, [client, name]);
  return events;
}

function MemberRecord(props: { m: MemberView; now: number }) {
  const m = props.m;
  return html`<table class="facts">
    <tr><td>name</td><td data-field="name">${m.name}</td></tr><tr><td>id</td><td><code>${m.id}</code></td></tr>
    <tr><td>type</td><td>${m.type}</td></tr><tr><td>status</td><td><${StatusBadge} status=${m.status} /></td></tr>
    <tr><td>address</td><td>${m.address || html`<span class="muted">—</span>`}</td></tr>
    <tr><td>liveness</td><td><code>${JSON.stringify(m.liveness)}</code></td></tr>
    <tr><td>hub</td><td>${m.hub ?? ''}</td></tr><tr><td>face</td><td>${m.face ?? '—'}</td></tr>
    <tr><td>roles</td><td>${(m.roles ?? []).join(', ') || '—'}</td></tr>
    <tr><td>registered</td><td>${new Date(m.registeredAt).toLocaleString()} (${ago(m.registeredAt, props.now)} ago)</td></tr>
    <tr><td>last seen</td><td>${ago(m.lastSeen, props.now)} ago</td></tr>
  </table>`;
}

function Lifecycle(props: { record: LifecycleRecord }) {
  const l = props.record;
  return html`<section class="card"><h3>Lifecycle</h3>
    <p><${StateBadge} state=${l.state} /> since ${clock(l.since)} · ${l.connected ? 'reachable' : 'not reachable'}
      ${l.pending ? html` · waiting for the answer to ${l.pending.command}` : ''}</p>
    ${l.lastError ? html`<p class="error-text">last error: ${l.lastError}</p>` : ''}
    ${Object.keys(l.endpoints).length ? html`<p>endpoints: ${Object.entries(l.endpoints).map(([k, v]) => html`<code>${k}: ${v.join(', ')}</code> `)}</p>` : ''}
    <table class="history"><thead><tr><th>at</th><th>from</th><th>to</th><th>note</th></tr></thead><tbody>
      ${[...l.history].reverse().map((t) => html`<tr><td>${clock(t.at)}</td><td>${t.from ?? '—'}</td><td><${StateBadge} state=${t.to} /></td><td>${t.note ?? ''}</td></tr>`)}
    </tbody></table></section>`;
}

function Commands(props: { name: string }) {
  const client = useClient();
  const [text, setText] = useState('{}');
  const [outcomes, setOutcomes] = useState<readonly Outcome[]>([]);
  const [busy, setBusy] = useState(false);
  const checked = checkConfig(text);
  const run = async (work: () => Promise<Outcome>) => {
    setBusy(true);
    try { setOutcomes([await work()]); } finally { setBusy(false); }
  };
  return html`<section class="card actions"><h3>Commands</h3>
    <${ConfigEditor} text=${text} onText=${setText} />
    <div class="buttons">
      <button name="configure" disabled=${busy || !checked.ok} onClick=${() => checked.ok && run(() => configureOne(client, props.name, checked.value))}>Configure</button>
      <button name="stop" disabled=${busy} onClick=${() => run(() => stopOne(client, props.name))}>Stop</button>
    </div>
    <${Outcomes} outcomes=${outcomes} /></section>`;
}

export function Member(props: { route: Route }) {
  const client = useClient();
  const hub = props.route.query.hub;
  const name = hub ? `${hub}/${props.route.rest}` : props.route.rest;
  const now = useTick(2_000);
  const member = usePoll(() => client.get(name), 2_000, [client, name]);
  const m = member.data;
  const local = !hub;
  const lifecycle = usePoll(() => (m?.lifecycle && local ? client.call('control.lifecycle', { name }) : Promise.resolve(null)), 3_000, [client, name, m?.lifecycle?.state]);
  const events = useMemberEvents(client, props.route.rest);
  // Probe round trips as they come: the hub keeps the last one and the aggregates.
  const rtt = useRef<{ t: number[]; v: number[]; count: number }>({ t: [], v: [], count: -1 });
  const probe = m?.stats.probe;
  if (probe && probe.count !== rtt.current.count && probe.last !== null) {
    const r = rtt.current;
    r.t = [...r.t, Date.now() / 1000].slice(-RTT_KEEP);
    r.v = [...r.v, probe.last].slice(-RTT_KEEP);
    r.count = probe.count;
  }
  if (member.error && !m) return html`<p class="error" role="alert">${member.error}</p>`;
  if (!m) return html`<p class="muted">loading ${name}…</p>`;
  const t = m.stats.traffic;
  return html`<div class="member-page">
    <h2>${m.name} ${member.error ? html`<span class="error">${member.error}</span>` : ''}</h2>
    <div class="cards">
      <section class="card"><h3>Record</h3><${MemberRecord} m=${m} now=${now} /></section>
      <section class="card"><h3>Meta</h3>${Object.keys(m.meta).length ? html`<table class="facts">${Object.entries(m.meta).map(([k, v]) => html`<tr><td>${k}</td><td>${v}</td></tr>`)}</table>` : html`<p class="muted">no labels</p>`}</section>
      <section class="card"><h3>Messages</h3><table class="facts">
        <tr><td>received</td><td>${count(t.received)} (${count(t.receivedBytes)} bytes)${t.lastReceived ? `, last ${ago(t.lastReceived, now)} ago` : ''}</td></tr>
        <tr><td>sent</td><td>${count(t.sent)} (${count(t.sentBytes)} bytes)${t.lastSent ? `, last ${ago(t.lastSent, now)} ago` : ''}</td></tr>
        <tr><td>dropped</td><td>${count(t.dropped)}</td></tr></table></section>
      ${probe ? html`<section class="card"><h3>Probe</h3><p>last ${probe.last?.toFixed(1) ?? '—'} ms · min ${probe.min?.toFixed(1) ?? '—'} · avg ${probe.avg?.toFixed(1) ?? '—'} · max ${probe.max?.toFixed(1) ?? '—'} · ${probe.count} ok, ${probe.fails} failed</p>
        <${Chart} title="Probe round trip" unit="ms" lines=${[{ label: 'rtt', color: '#3867d6' }]} data=${[rtt.current.t, rtt.current.v]} /></section>` : ''}
    </div>
    ${lifecycle.data ? html`<${Lifecycle} record=${lifecycle.data} />` : ''}
    ${m.lifecycle && local ? html`<${Commands} name=${m.name} />` : ''}
    <section class="card"><h3>Recent events</h3>${local ? html`<table class="events"><tbody>${events.map((e) => html`<tr><td>${clock(e.at)}</td><td>#${e.revision}</td><td>${e.type}</td><td>${describe(e)}</td></tr>`)}</tbody></table>` : html`<p class="muted">events stay on hub ${hub}</p>`}</section>
  </div>`;
}

export function describe(e: RegistryEvent): string {
  switch (e.type) {
    case 'added': return `registered (${e.member.type})`;
    case 'removed': return `removed: ${e.reason}`;
    case 'lifecycle': return `${e.from} → ${e.to}`;
    case 'updated': return `${e.member.status}`;
  }
}

