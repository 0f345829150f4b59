/**
 * Components: lifecycle states live; with a controller's or the admin token, configure (a JSON
 * config checked before sending) and stop one component, the ones ticked, or every component
 * the filters select (the hub's group commands), showing each answer.
 */
import { useState } from 'preact/hooks';
import { controller, type MusterClient, type Selector } from '../../client/index.js';
import { ago } from '../format.js';
import { useClient, useConnectionState, useTick } from '../hooks.js';
import { html } from '../html.js';
import { useLiveMembers, type MemberQuery } from '../live-members.js';
import { href, type Route } from '../router.js';
import { checkConfig, ConfigEditor } from './config-editor.js';
import { configureOne, Outcomes, refused, stopOne, type Outcome } from './control-results.js';
import { Filters, Pager, queryFromRoute, SortHeader } from './member-filters.js';
import { StateBadge, StatusBadge } from './members.js';

/** The filters as a group selector (the hub needs at least one field). */
function selectorOf(q: MemberQuery): Selector | null {
  const s: Selector = {};
  if (q.type) s.type = q.type;
  if (q.prefix) s.prefix = q.prefix;
  if (q.meta) s.meta = q.meta;
  if (q.state) s.state = q.state as Selector['state'];
  return Object.keys(s).length ? s : null;
}

async function group(client: MusterClient, command: 'configure' | 'stop', selector: Selector, config: Record<string, unknown>): Promise<Outcome[]> {
  try {
    if (command === 'configure') {
      const r = await controller(client).configureGroup(selector, config);
      return r.members.map((m) => ({ name: m.name, command, answer: m.code ?? (m.ok ? 'OK' : 'ERROR'), good: m.ok, text: m.error ?? (m.state ? `now ${m.state}` : '') }));
    }
    const r = await controller(client).stopGroup(selector);
    return r.members.map((m) => ({ name: m.name, command, answer: m.code ?? `FINISHED ${m.outcome ?? ''}`, good: !m.code && m.outcome === 'OK', text: m.error ?? (m.details ?? []).join('; ') }));
  } catch (err) {
    return [refused('(selector)', command, err)];
  }
}

export function Components(props: { route: Route }) {
  const client = useClient();
  const conn = useConnectionState();
  const query = queryFromRoute(props.route.query, 'component');
  const live = useLiveMembers(client, query);
  const now = useTick(5_000);
  const [picked, setPicked] = useState<ReadonlySet<string>>(new Set());
  const [text, setText] = useState('{\n  "rate": 5\n}');
  const [busy, setBusy] = useState(false);
  const [outcomes, setOutcomes] = useState<readonly Outcome[]>([]);
  const checked = checkConfig(text);
  const selector = selectorOf(query);
  const names = [...picked];

  const run = async (work: () => Promise<Outcome[]>) => {
    setBusy(true);
    setOutcomes([]);
    try { setOutcomes(await work()); } finally { setBusy(false); }
  };
  const toggle = (name: string) => {
    const next = new Set(picked);
    if (next.has(name)) next.delete(name); else next.add(name);
    setPicked(next);
  };
  const r = props.route;
  return html`<div>
    <${Filters} route=${r} />
    ${live.error ? html`<p class="error" role="alert">${live.error}</p>` : ''}
    <${Pager} route=${r} total=${live.total} shown=${live.rows.length} />
    <table class="members components" data-loaded=${live.loaded ? 'yes' : 'no'}>
      <thead><tr><th></th><${SortHeader} route=${r} sort="name" label="name" /><${SortHeader} route=${r} sort="type" label="type" />
        <${SortHeader} route=${r} sort="state" label="state" /><th>since</th><${SortHeader} route=${r} sort="status" label="status" /><th>last error</th></tr></thead>
      <tbody>${live.rows.map((row) => {
        const m = row.view;
        return html`<tr key=${m.name + '#' + row.version} class=${(row.version > 0 ? 'flash' : '') + (row.removed ? ' removed' : '')} data-name=${m.name} data-state=${m.lifecycle?.state ?? ''}>
          <td><input type="checkbox" aria-label=${'select ' + m.name} checked=${picked.has(m.name)} onChange=${() => toggle(m.name)} /></td>
          <td><a href=${href('member', {}, m.name)}>${m.name}</a></td><td>${m.type}</td>
          <td><${StateBadge} state=${m.lifecycle?.state} /></td><td class="num">${m.lifecycle ? ago(m.lifecycle.since, now) : ''}</td>
          <td><${StatusBadge} status=${m.status} /></td><td class="error-text">${m.lifecycle?.lastError ?? ''}</td></tr>`;
      })}</tbody>
    </table>
    <section class="card actions">
      <h3>Drive components ${conn.admin ? '' : html`<small class="muted">(needs the admin token or a controller's; the hub refuses otherwise)</small>`}</h3>
      <${ConfigEditor} text=${text} onText=${setText} />
      <div class="buttons">
        <button name="configure-picked" disabled=${busy || !checked.ok || names.length === 0}
          onClick=${() => checked.ok && run(() => Promise.all(names.map((n) => configureOne(client, n, checked.value))))}>Configure ${names.length || ''} ticked</button>
        <button name="stop-picked" disabled=${busy || names.length === 0} onClick=${() => run(() => Promise.all(names.map((n) => stopOne(client, n))))}>Stop ${names.length || ''} ticked</button>
        <button name="configure-group" disabled=${busy || !checked.ok || !selector} title="every component the filters select (type, name prefix, meta, state)"
          onClick=${() => checked.ok && selector && run(() => group(client, 'configure', selector, checked.value))}>Configure all matching</button>
        <button name="stop-group" disabled=${busy || !selector} onClick=${() => selector && run(() => group(client, 'stop', selector, {}))}>Stop all matching</button>
        ${busy ? html`<span class="muted">waiting for answers…</span>` : ''}
      </div>
      <${Outcomes} outcomes=${outcomes} />
    </section>
  </div>`;
}
