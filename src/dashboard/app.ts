/** The page: a header (pages, link state, token), then the page the URL names. Pages start over on a new connection. */
import type { VNode } from 'preact';
import type { HubConnection } from './connection.js';
import { ClientContext, HubContext, useConnection, useConnectionState } from './hooks.js';
import { html } from './html.js';
import { href, useRoute, type Route } from './router.js';
import { Bus } from './views/bus.js';
import { Components } from './views/components.js';
import { Events } from './views/events.js';
import { Member } from './views/member.js';
import { Members } from './views/members.js';
import { Overview } from './views/overview.js';
import { TokenBar } from './views/token-bar.js';
import { Tree } from './views/tree.js';

const PAGES: readonly { page: string; title: string; view: (p: { route: Route }) => VNode }[] = [
  { page: '', title: 'Overview', view: Overview },
  { page: 'members', title: 'Members', view: Members },
  { page: 'components', title: 'Components', view: Components },
  { page: 'bus', title: 'Bus', view: Bus },
  { page: 'tree', title: 'Tree', view: Tree },
  { page: 'events', title: 'Events', view: Events },
];

function LinkState() {
  const s = useConnectionState();
  const text = s.link === 'connected' ? 'live' : s.link === 'connecting' ? 'connecting…' : 'reconnecting…';
  return html`<span class=${'link-state ' + s.link} data-link=${s.link} title=${s.reason}>${text}</span>`;
}

function Page(props: { route: Route }) {
  const s = useConnectionState();
  const client = useConnection().client;
  if (!client) return html`<p class="muted" data-waiting>connecting to the hub… ${s.reason}</p>`;
  const r = props.route;
  const View = r.page === 'member' ? Member : (PAGES.find((p) => p.page === r.page)?.view ?? Overview);
  // Keyed by the connection: a new token means a new client, and every page starts over on it.
  return html`<${ClientContext.Provider} value=${client}><${View} key=${s.generation} route=${r} /></${ClientContext.Provider}>`;
}

function Shell() {
  const route = useRoute();
  const current = route.page === 'member' ? 'members' : route.page;
  return html`<header>
      <a class="brand" href="#/">muster</a>
      <nav>${PAGES.map((p) => html`<a href=${href(p.page)} class=${p.page === current ? 'active' : ''} data-page=${p.page || 'overview'}>${p.title}</a>`)}</nav>
      <${LinkState} /><${TokenBar} />
    </header>
    <main><${Page} route=${route} /></main>`;
}

export function App(props: { connection: HubConnection }) {
  return html`<${HubContext.Provider} value=${props.connection}><${Shell} /></${HubContext.Provider}>`;
}
