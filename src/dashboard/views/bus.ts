/**
 * Bus: scopes with their subscribers and message rates; a live tail of a scope (pause, filter,
 * the last 200 kept) and a test publication. Subscribing and publishing need a member on the
 * connection or the admin token: the hub refuses the page as it refuses any SDK client.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { bus, type BusMessage, type Subscription } from '../../client/index.js';
import { clock, count, errorText, rate } from '../format.js';
import { useClient, useConnectionState, usePoll } from '../hooks.js';
import { html } from '../html.js';

interface Stats { totals: Record<string, number>; subscriptions: number; scopes: Record<string, number>; subscribers?: Record<string, number> }
interface ScopeRow { scope: string; subscribers: number; published: number; perSec: number }

const TAIL_KEEP = 200;
/** The busiest scopes are shown; the hub counts up to 10,000. */
const SCOPES_SHOWN = 100;

function useScopes(): { rows: ScopeRow[]; stats: Stats | null; error: string } {
  const client = useClient();
  const prev = useRef<{ at: number; scopes: Record<string, number> } | null>(null);
  const polled = usePoll(async () => {
    const stats = await client.call<Stats>('bus.stats', {});
    const at = performance.now();
    const before = prev.current;
    prev.current = { at, scopes: stats.scopes };
    const dt = before ? (at - before.at) / 1000 : 0;
    const names = new Set([...Object.keys(stats.scopes), ...Object.keys(stats.subscribers ?? {})]);
    const rows = [...names].map((scope) => {
      const published = stats.scopes[scope] ?? 0;
      const perSec = before && dt > 0 ? Math.max(0, (published - (before.scopes[scope] ?? 0)) / dt) : 0;
      return { scope, subscribers: stats.subscribers?.[scope] ?? 0, published, perSec };
    }).sort((a, b) => b.perSec - a.perSec || b.subscribers - a.subscribers || (a.scope < b.scope ? -1 : 1));
    return { rows, stats };
  }, 2_000, [client]);
  return { rows: polled.data?.rows ?? [], stats: polled.data?.stats ?? null, error: polled.error };
}

function Tail(props: { initialScope: string }) {
  const client = useClient();
  const [scope, setScope] = useState(props.initialScope);
  const [active, setActive] = useState<string | null>(null);
  const [paused, setPaused] = useState(false);
  const [filter, setFilter] = useState('');
  const [messages, setMessages] = useState<readonly BusMessage[]>([]);
  const [error, setError] = useState('');
  const [seen, setSeen] = useState(0);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => {
    if (!active) return;
    let sub: Subscription | null = null;
    try {
      // echo: the tail also shows what this page publishes.
      sub = bus(client).subscribe(active, (m) => {
        setSeen((n) => n + 1);
        if (!pausedRef.current) setMessages((old) => [m, ...old].slice(0, TAIL_KEEP));
      }, { echo: true });
    } catch (err) {
      setError(errorText(err));
      return;
    }
    sub.ready.then(() => setError(''), (err: unknown) => { setError(errorText(err)); setActive(null); });
    return () => void sub?.close();
  }, [client, active]);

  const shown = filter ? messages.filter((m) => JSON.stringify(m.data).includes(filter) || m.from.includes(filter)) : messages;
  return html`<section class="card tail"><h3>Live tail</h3>
    <form class="filters" onSubmit=${(e: Event) => { e.preventDefault(); setMessages([]); setSeen(0); setActive(scope); }}>
      <label>scope<input name="tail-scope" value=${scope} onInput=${(e: Event) => setScope((e.target as HTMLInputElement).value)} /></label>
      <button type="submit" name="tail">${active ? 'Tail this instead' : 'Tail'}</button>
      ${active ? html`<button type="button" onClick=${() => setActive(null)}>Stop</button>
        <button type="button" name="pause" onClick=${() => setPaused(!paused)}>${paused ? 'Resume' : 'Pause'}</button>` : ''}
      <label>filter<input name="tail-filter" value=${filter} placeholder="text in data or sender" onInput=${(e: Event) => setFilter((e.target as HTMLInputElement).value)} /></label>
    </form>
    ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
    ${active ? html`<p class="muted">tailing ${active}: ${seen} received${paused ? ', paused' : ''}; the last ${TAIL_KEEP} kept</p>` : ''}
    <table class="tail-messages"><tbody>${shown.map((m) => html`<tr><td>${clock(m.delivered / 1000)}</td><td>${m.scope ?? m.kind}</td><td>${m.from}</td><td><code>${preview(m.data)}</code></td></tr>`)}</tbody></table>
  </section>`;
}

function Publish() {
  const client = useClient();
  const [scope, setScope] = useState('/test/');
  const [text, setText] = useState('{"hello": "from the dashboard"}');
  const [answer, setAnswer] = useState('');
  let data: unknown;
  let bad = '';
  try { data = JSON.parse(text); } catch (err) { bad = (err as Error).message; }
  const send = async (e: Event) => {
    e.preventDefault();
    try {
      const r = await client.call('bus.publish', { scope, data });  // acknowledged: the answer tells seq and delivered
      setAnswer(`published as seq ${r.seq}, delivered to ${r.delivered}`);
    } catch (err) {
      setAnswer(errorText(err));
    }
  };
  return html`<section class="card"><h3>Publish a test message</h3>
    <form class="filters" onSubmit=${send}>
      <label>scope<input name="pub-scope" value=${scope} onInput=${(e: Event) => setScope((e.target as HTMLInputElement).value)} /></label>
      <label>data (JSON)<input name="pub-data" size="40" value=${text} onInput=${(e: Event) => setText((e.target as HTMLInputElement).value)} /></label>
      <button type="submit" name="publish" disabled=${bad !== ''}>Publish</button>
    </form>
    ${bad ? html`<p class="invalid">not JSON: ${bad}</p>` : ''}${answer ? html`<p data-answer>${answer}</p>` : ''}
  </section>`;
}

function preview(data: unknown): string {
  const text = data instanceof Uint8Array ? `(${data.length} bytes)` : JSON.stringify(data);
  return text.length > 200 ? text.slice(0, 200) + '…' : text;
}

export function Bus() {
  const { rows, stats, error } = useScopes();
  const conn = useConnectionState();
  const t = stats?.totals;
  return html`<div>
    ${error ? html`<p class="error">${error}</p>` : ''}
    ${t ? html`<p class="muted">${count(t.published ?? 0)} published, ${count(t.delivered ?? 0)} delivered, ${count(t.dropped ?? 0)} dropped, ${count(t.throttled ?? 0)} throttled; ${stats?.subscriptions ?? 0} subscriptions</p>` : ''}
    <table class="scopes"><thead><tr><th>scope</th><th class="num">subscribers</th><th class="num">published</th><th class="num">messages/s</th></tr></thead><tbody>
      ${rows.length === 0 ? html`<tr><td colspan="4" class="muted">no scope used yet</td></tr>` : ''}
      ${rows.slice(0, SCOPES_SHOWN).map((r) => html`<tr data-scope=${r.scope}><td><code>${r.scope}</code></td><td class="num">${r.subscribers}</td><td class="num">${count(r.published)}</td><td class="num">${rate(r.perSec)}</td></tr>`)}
    </tbody></table>
    ${rows.length > SCOPES_SHOWN ? html`<p class="muted">and ${rows.length - SCOPES_SHOWN} more scopes, quieter than these</p>` : ''}
    ${conn.admin ? '' : html`<p class="muted">Tailing and publishing need the admin token (the hub refuses them otherwise).</p>`}
    <${Publish} />
    <${Tail} initialScope="/" />
  </div>`;
}

