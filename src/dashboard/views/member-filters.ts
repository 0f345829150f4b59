/** The filters of a member list, kept in the URL's query: what the hub's `list` takes. */
import type { MemberStatus } from '../../client/index.js';
import { html } from '../html.js';
import type { MemberQuery } from '../live-members.js';
import { setQuery, type Route } from '../router.js';

export const PAGE_SIZE = 50;
const STATUSES = ['alive', 'suspect', 'gone'] as const;
const STATES = ['starting', 'ready', 'configuring', 'configured', 'stopping', 'finished', 'failed', 'unresponsive'] as const;
const SORTS = ['name', 'type', 'status', 'state', 'lastSeen', 'registeredAt', 'received', 'sent'] as const;
type Sort = (typeof SORTS)[number];

/** `k=v, k2=v2` as meta labels (pairs without `=` are left out). */
export function parseMeta(text: string | undefined): Record<string, string> | undefined {
  if (!text) return undefined;
  const meta: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) meta[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return Object.keys(meta).length ? meta : undefined;
}

const oneOf = <T extends string>(list: readonly T[], v: string | undefined): T | undefined => (list as readonly string[]).includes(v ?? '') ? (v as T) : undefined;
const text = (v: string | undefined) => (v ? v : undefined);

export function queryFromRoute(q: Readonly<Record<string, string>>, role?: 'component'): MemberQuery {
  const offset = Number(q.offset);
  return {
    type: text(q.type), status: oneOf<MemberStatus>(STATUSES, q.status), state: oneOf(STATES, q.state), prefix: text(q.prefix),
    search: text(q.search), meta: parseMeta(q.meta), hub: text(q.hub), role,
    sort: oneOf<Sort>(SORTS, q.sort), order: q.order === 'desc' ? 'desc' : undefined,
    offset: Number.isInteger(offset) && offset > 0 ? offset : undefined, limit: PAGE_SIZE,
  };
}

/** Changes some of the query; any filter change goes back to the first page. */
export function updateQuery(route: Route, patch: Record<string, string | undefined>): void {
  const keepOffset = Object.keys(patch).every((k) => k === 'offset');
  setQuery(route, { ...route.query, ...(keepOffset ? {} : { offset: undefined }), ...patch });
}

function Field(props: { route: Route; name: string; label: string; placeholder?: string }) {
  return html`<label>${props.label}<input name=${props.name} value=${props.route.query[props.name] ?? ''} placeholder=${props.placeholder ?? ''}
    onInput=${(e: Event) => updateQuery(props.route, { [props.name]: (e.target as HTMLInputElement).value || undefined })} /></label>`;
}

function Choice(props: { route: Route; name: string; label: string; options: readonly string[] }) {
  return html`<label>${props.label}<select name=${props.name} value=${props.route.query[props.name] ?? ''}
    onChange=${(e: Event) => updateQuery(props.route, { [props.name]: (e.target as HTMLSelectElement).value || undefined })}>
    <option value="">any</option>${props.options.map((o) => html`<option value=${o}>${o}</option>`)}</select></label>`;
}

export function Filters(props: { route: Route; types?: readonly string[] }) {
  const r = props.route;
  return html`<form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
    <${Field} route=${r} name="search" label="name contains" placeholder="part of a name" />
    <${Field} route=${r} name="prefix" label="name starts with" />
    <${Field} route=${r} name="type" label="type" />
    <${Choice} route=${r} name="status" label="status" options=${STATUSES} />
    <${Choice} route=${r} name="state" label="lifecycle state" options=${STATES} />
    <${Field} route=${r} name="meta" label="meta" placeholder="key=value, …" />
    ${r.query.hub ? html`<label>hub<span class="chip">${r.query.hub} <button type="button" onClick=${() => updateQuery(r, { hub: undefined })}>×</button></span></label>` : ''}
  </form>`;
}

/** A sortable column header: a click sorts by it, a second click reverses. */
export function SortHeader(props: { route: Route; sort: Sort; label: string }) {
  const active = (props.route.query.sort ?? 'name') === props.sort;
  const desc = props.route.query.order === 'desc';
  const next = active && !desc ? 'desc' : undefined;
  return html`<th class=${active ? 'sorted' : ''}><button type="button" class="link" data-sort=${props.sort}
    onClick=${() => updateQuery(props.route, { sort: props.sort === 'name' ? undefined : props.sort, order: next })}>${props.label}${active ? (desc ? ' ▼' : ' ▲') : ''}</button></th>`;
}

export function Pager(props: { route: Route; total: number; shown: number }) {
  const offset = Number(props.route.query.offset ?? 0) || 0;
  const go = (o: number) => updateQuery(props.route, { offset: o > 0 ? String(o) : undefined });
  return html`<div class="pager">
    <button disabled=${offset === 0} onClick=${() => go(Math.max(0, offset - PAGE_SIZE))}>‹ previous</button>
    <span data-total=${props.total}>${props.total === 0 ? 'no members' : `${offset + 1}–${offset + props.shown} of ${props.total.toLocaleString()}`}</span>
    <button disabled=${offset + PAGE_SIZE >= props.total} onClick=${() => go(offset + PAGE_SIZE)}>next ›</button>
  </div>`;
}
