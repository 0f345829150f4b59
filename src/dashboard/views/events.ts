/**
 * Events: the registry's live event feed, filtered by the hub (event types, member type, name,
 * prefix, meta), newest first. Admin events (the audit) show when `admin` is ticked.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { AdminEvent, HubEvent, HubEventType, WatchFilter } from '../../client/index.js';
import { clock, errorText } from '../format.js';
import { useClient } from '../hooks.js';
import { html } from '../html.js';
import { href, setQuery, type Route } from '../router.js';
import { parseMeta } from './member-filters.js';
import { describe } from './member.js';

const TYPES: readonly HubEventType[] = ['added', 'updated', 'removed', 'lifecycle', 'admin'];
const KEEP = 500;
/** Shown from before the page opened: the last this many events (as far as the hub keeps them). */
const BACKLOG = 100;

export function filterFromQuery(q: Readonly<Record<string, string>>): WatchFilter {
  const f: WatchFilter = {};
  const types = (q.types ?? '').split(',').filter((t): t is HubEventType => (TYPES as readonly string[]).includes(t));
  if (types.length) f.types = types;
  if (q.type) f.type = q.type;
  if (q.name) f.name = q.name;
  if (q.prefix) f.prefix = q.prefix;
  const meta = parseMeta(q.meta);
  if (meta) f.meta = meta;
  return f;
}

export function Events(props: { route: Route }) {
  const client = useClient();
  const filter = filterFromQuery(props.route.query);
  const key = JSON.stringify(filter);
  const [events, setEvents] = useState<readonly HubEvent[]>([]);
  const [paused, setPaused] = useState(false);
  const [missed, setMissed] = useState(0);
  const [error, setError] = useState('');
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    let stopped = false;
    let close = (): void => {};
    setEvents([]);
    setError('');
    const follow = async (since: number): Promise<void> => {
      const watch = client.watch(filter, { since });
      close = () => void watch.close();
      try {
        for await (const e of watch) {
          if (stopped) return;
          if (pausedRef.current) setMissed((n) => n + 1);
          else setEvents((old) => [e, ...old].slice(0, KEEP));
        }
      } catch (err) {
        const oldest = (err as { details?: { oldest?: unknown } }).details?.oldest;
        if (stopped) return;
        if (typeof oldest === 'number') await follow(oldest);
        else setError(errorText(err));
      }
    };
    void client.info().then((i) => follow(Math.max(0, i.revision - BACKLOG)), (err: unknown) => setError(errorText(err)));
    return () => { stopped = true; close(); };
  }, [client, key]);

  const q = props.route.query;
  const set = (k: string, v: string | undefined) => setQuery(props.route, { ...q, [k]: v || undefined });
  const picked = new Set(filter.types ?? []);
  const toggle = (t: HubEventType) => {
    const next = new Set(picked);
    if (next.has(t)) next.delete(t); else next.add(t);
    set('types', [...next].join(','));
  };
  return html`<div>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <fieldset><legend>events</legend>${TYPES.map((t) => html`<label class="check"><input type="checkbox" name=${'type-' + t} checked=${picked.has(t)} onChange=${() => toggle(t)} />${t}</label>`)}</fieldset>
      ${(['type', 'name', 'prefix', 'meta'] as const).map((k) => html`<label>${k === 'type' ? 'member type' : k}<input name=${k} value=${q[k] ?? ''}
        placeholder=${k === 'meta' ? 'key=value, …' : ''} onInput=${(e: Event) => set(k, (e.target as HTMLInputElement).value)} /></label>`)}
      <button type="button" name="pause" onClick=${() => { setPaused(!paused); setMissed(0); }}>${paused ? `Resume (${missed} not shown)` : 'Pause'}</button>
    </form>
    ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
    <table class="events feed"><thead><tr><th>time</th><th>revision</th><th>event</th><th>member</th><th>type</th><th></th></tr></thead><tbody>
      ${events.map((e) => html`<tr key=${e.revision} class=${'ev ' + e.type} data-revision=${e.revision}>
        <td>${clock(e.at)}</td><td class="num">${e.revision}</td><td>${e.type}</td>
        ${e.type === 'admin' ? html`<td>${who(e)}</td><td>${e.action}</td><td>${JSON.stringify(e.detail)}</td>`
          : html`<td><a href=${href('member', {}, e.member.name)}>${e.member.name}</a></td><td>${e.member.type}</td><td>${describe(e)}</td>`}</tr>`)}
    </tbody></table>
  </div>`;
}

/** `admin (http 10.0.0.7)`: who took an admin action and from where. */
function who(e: AdminEvent): string {
  return e.from ? `${e.by} (${e.from.face} ${e.from.address})` : e.by;
}
