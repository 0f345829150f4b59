/** Pages live in the URL's hash (#/members?type=camera), so a view can be bookmarked and reloaded. */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** The page: '', 'members', 'member', 'components', 'bus', 'tree', 'events'. */
  readonly page: string;
  /** Path after the page (a member's name). */
  readonly rest: string;
  readonly query: Readonly<Record<string, string>>;
}

export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const [path = '', search = ''] = text.split('?', 2);
  const [page = '', ...rest] = path.split('/');
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(search)) query[k] = v;
  return { page, rest: rest.map(decodeURIComponent).join('/'), query };
}

export function href(page: string, query: Record<string, string | number | undefined> = {}, rest = ''): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `#/${page}${rest ? '/' + encodeURIComponent(rest) : ''}${s ? '?' + s : ''}`;
}

/** Replaces the query of the current page (filters, sort, paging) without a new history entry per keystroke. */
export function setQuery(route: Route, query: Record<string, string | number | undefined>): void {
  history.replaceState(null, '', href(route.page, query, route.rest));
  dispatchEvent(new HashChangeEvent('hashchange'));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
