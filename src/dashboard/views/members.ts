/** Members: every member, filtered, searched, sorted and paged by the hub, kept live by the event stream. */
import { useEffect } from 'preact/hooks';
import type { MemberView } from '../../client/index.js';
import { ago, count } from '../format.js';
import { useClient, useTick } from '../hooks.js';
import { html } from '../html.js';
import { useLiveMembers, type Row } from '../live-members.js';
import { href, type Route } from '../router.js';
import { Filters, Pager, queryFromRoute, SortHeader } from './member-filters.js';

const SHOWN_MARK = 'muster:members-shown';

export function StatusBadge(props: { status: string }) {
  return html`<span class=${'badge ' + props.status}>${props.status}</span>`;
}

export function StateBadge(props: { state: string | undefined }) {
  return props.state ? html`<span class=${'state ' + props.state}>${props.state}</span>` : html`<span class="muted">—</span>`;
}

function MemberRow(props: { row: Row; now: number; route: Route }) {
  const m: MemberView = props.row.view;
  const t = m.stats.traffic;
  const cls = (props.row.version > 0 ? 'flash' : '') + (props.row.removed ? ' removed' : '');
  return html`<tr class=${cls} data-name=${m.name} data-status=${m.status}>
    <td><a href=${href('member', m.hub && props.route.query.hub ? { hub: m.hub } : {}, m.name)}>${m.name}</a></td>
    <td>${m.type}</td>
    <td><${StatusBadge} status=${props.row.removed ? 'gone' : m.status} /></td>
    <td><${StateBadge} state=${m.lifecycle?.state} /></td>
    <td class="addr" title=${m.address}>${m.address}</td>
    <td>${m.hub ?? ''}</td>
    <td>${m.face ?? html`<span class="muted">—</span>`}</td>
    <td class="num" title=${new Date(m.lastSeen).toLocaleString()}>${ago(m.lastSeen, props.now)}</td>
    <td class="num">${ago(m.registeredAt, props.now)}</td>
    <td class="num" title="received / sent">${count(t.received)} / ${count(t.sent)}</td>
  </tr>`;
}

export function Members(props: { route: Route }) {
  const client = useClient();
  const query = queryFromRoute(props.route.query);
  const live = useLiveMembers(client, query);
  const now = useTick(5_000);
  const r = props.route;
  // When the first page of members is on screen: what the scale test measures.
  useEffect(() => {
    if (live.loaded && performance.getEntriesByName(SHOWN_MARK).length === 0) performance.mark(SHOWN_MARK);
  }, [live.loaded]);
  return html`<div>
    <${Filters} route=${r} />
    ${live.error ? html`<p class="error" role="alert">${live.error}</p>` : ''}
    <${Pager} route=${r} total=${live.total} shown=${live.rows.length} />
    <table class="members" data-loaded=${live.loaded ? 'yes' : 'no'}>
      <thead><tr>
        <${SortHeader} route=${r} sort="name" label="name" /><${SortHeader} route=${r} sort="type" label="type" />
        <${SortHeader} route=${r} sort="status" label="status" /><${SortHeader} route=${r} sort="state" label="state" />
        <th>address</th><th>hub</th><th>face</th>
        <${SortHeader} route=${r} sort="lastSeen" label="last seen" /><${SortHeader} route=${r} sort="registeredAt" label="age" />
        <${SortHeader} route=${r} sort="received" label="messages in / out" />
      </tr></thead>
      <tbody>${live.rows.map((row) => html`<${MemberRow} key=${row.view.name + '#' + row.version} row=${row} now=${now} route=${r} />`)}</tbody>
    </table>
  </div>`;
}
