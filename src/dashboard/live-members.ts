/**
 * A page of members that stays current: the hub filters, sorts and pages (`list`), and the event
 * stream (a `watch` opened at the list's revision, so nothing between the two is missed; the SDK
 * resumes it with `since` after a drop) updates rows in place. A change that can move rows
 * (a member added, removed, or no longer matching) asks the hub for the page again, at most a
 * few times a second whatever the churn.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ListParams, MemberView, MusterClient, RegistryEvent } from '../client/index.js';
import { errorText } from './format.js';

export type MemberQuery = Omit<ListParams, 'after'> & { hub?: string };

export interface Row {
  readonly view: MemberView;
  /** Bumped on each change: the row's key, so a changed row is drawn anew (and flashes). */
  readonly version: number;
  /** Removed: shown struck out until the page is asked for again. */
  readonly removed: boolean;
}

export interface LiveMembers {
  readonly rows: readonly Row[];
  readonly total: number;
  readonly revision: number;
  readonly error: string;
  readonly loaded: boolean;
}

/** Pages are asked for again at most this often under churn. */
const REFETCH_MS = 400;
/** And anyway this often, for columns that move without events (last seen, message counts). */
const REFRESH_MS = 10_000;

export function matchesQuery(m: MemberView, q: MemberQuery): boolean {
  if (q.type !== undefined && m.type !== q.type) return false;
  if (q.status !== undefined && m.status !== q.status) return false;
  if (q.state !== undefined && m.lifecycle?.state !== q.state) return false;
  if (q.prefix !== undefined && !m.name.startsWith(q.prefix)) return false;
  if (q.search !== undefined && !m.name.toLowerCase().includes(q.search.toLowerCase())) return false;
  if (q.role !== undefined && !(m.roles ?? []).includes(q.role)) return false;
  if (q.meta) for (const k in q.meta) if (m.meta[k] !== q.meta[k]) return false;
  return true;
}

export function useLiveMembers(client: MusterClient, query: MemberQuery): LiveMembers {
  const [state, setState] = useState<LiveMembers>({ rows: [], total: 0, revision: 0, error: '', loaded: false });
  const current = useRef(state);
  current.current = state;
  const key = JSON.stringify(query);

  useEffect(() => {
    let stopped = false;
    let seq = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let lastFetch = 0;
    const remote = query.hub !== undefined;

    const fetchPage = async (): Promise<number> => {
      const mine = ++seq;
      lastFetch = performance.now();
      try {
        const r = await client.list({ ...query, limit: query.limit ?? 50 });
        if (stopped || mine !== seq) return r.revision;
        const old = new Map(current.current.rows.map((row) => [row.view.name, row]));
        const rows = r.members.map((view) => {
          const was = old.get(view.name);
          const same = was && !was.removed && JSON.stringify(was.view) === JSON.stringify(view);
          return same ? was : { view, version: (was?.version ?? -1) + 1, removed: false };
        });
        setState({ rows, total: r.total ?? r.members.length, revision: r.revision, error: '', loaded: true });
        return r.revision;
      } catch (err) {
        if (!stopped && mine === seq) setState({ ...current.current, error: errorText(err), loaded: true });
        throw err;
      }
    };
    /** Asks for the page again soon: at most once per REFETCH_MS. */
    const refetch = (): void => {
      if (timer || stopped) return;
      const wait = Math.max(0, REFETCH_MS - (performance.now() - lastFetch));
      timer = setTimeout(() => { timer = null; void fetchPage().catch(() => {}); }, wait);
    };
    const onEvent = (e: RegistryEvent): void => {
      const s = current.current;
      if (e.revision <= s.revision) return; // the page already shows it
      const i = s.rows.findIndex((r) => r.view.name === e.member.name);
      if (i >= 0) {
        const removed = e.type === 'removed';
        const rows = s.rows.slice();
        rows[i] = { view: e.member, version: s.rows[i]!.version + 1, removed };
        setState({ ...s, rows });
        if (removed || !matchesQuery(e.member, query) || (query.sort !== undefined && query.sort !== 'name')) refetch();
      } else if (e.type !== 'removed' ? matchesQuery(e.member, query) : true) {
        refetch();
      }
    };

    const every = setInterval(refetch, REFRESH_MS);
    const follow = async (): Promise<void> => {
      // Another hub's members are asked for, not watched: its events stay on that hub.
      while (!stopped) {
        const revision = await fetchPage().catch(() => null);
        if (stopped) return;
        if (revision === null || remote) { await sleep(remote ? 3_000 : 2_000); continue; }
        const watch = client.watch({}, { since: revision });
        stopWatch = () => void watch.close();
        try {
          for await (const e of watch) {
            if (stopped) break;
            onEvent(e);
          }
        } catch {
          // COMPACTED (away too long) or closed for good: list again and watch from there.
        }
        if (!stopped) await sleep(500);
      }
    };
    let stopWatch = (): void => {};
    void follow();
    return () => {
      stopped = true;
      clearInterval(every);
      if (timer) clearTimeout(timer);
      stopWatch();
    };
  }, [client, key]);

  return state;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
