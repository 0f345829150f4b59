/** Overview: who is there, events and bus traffic, drops and throttles, with live charts of the last 15 minutes. */
import type { HubInfo } from '../../client/index.js';
import { Chart } from '../chart.js';
import { count, rate } from '../format.js';
import { chartData, levels, rates, useHistory } from '../history.js';
import { useClient, usePoll } from '../hooks.js';
import { html } from '../html.js';
import { href } from '../router.js';

interface Summary { total: number; byStatus: Record<string, number>; byType: Record<string, number>; byState: Record<string, number>; byFace: Record<string, number>; otherTypes: number }

const last = (a: readonly number[]): number => (a.length ? a[a.length - 1]! : 0);

function Counts(props: { title: string; counts: Record<string, number>; link: (k: string) => string }) {
  const entries = Object.entries(props.counts).sort((a, b) => b[1] - a[1]);
  return html`<section class="card counts"><h3>${props.title}</h3>
    ${entries.length === 0 ? html`<p class="muted">none</p>` : html`<table>${entries.map(([k, n]) => html`<tr><td><a href=${props.link(k)}>${k}</a></td><td class="num">${count(n)}</td></tr>`)}</table>`}
  </section>`;
}

export function Overview() {
  const client = useClient();
  const info = usePoll(() => client.info(), 2_000, [client]);
  const summary = usePoll(() => client.call<Summary>('stats.members', {}), 3_000, [client]);
  const h = useHistory(client);
  const events = rates(h, 'events');
  const published = rates(h, 'published');
  const delivered = rates(h, 'delivered');
  const dropped = rates(h, 'dropped');
  const throttled = rates(h, 'throttled');
  const slow = rates(h, 'slowDisconnects');
  const watchDrops = rates(h, 'watchersDropped');
  const i: HubInfo | null = info.data;
  const s = summary.data;
  const m = i?.members;
  return html`<div class="overview">
    <div class="tiles">
      <a class="tile" href=${href('members')}><b data-tile="members">${m ? count(m.total) : '…'}</b><span>members</span></a>
      <a class="tile ok" href=${href('members', { status: 'alive' })}><b data-tile="alive">${m ? count(m.alive) : '…'}</b><span>alive</span></a>
      <a class="tile warn" href=${href('members', { status: 'suspect' })}><b data-tile="suspect">${m ? count(m.suspect) : '…'}</b><span>suspect</span></a>
      <div class="tile"><b data-tile="events">${rate(last(events))}</b><span>events/s</span></div>
      <div class="tile"><b data-tile="bus">${rate(last(delivered))}</b><span>bus messages/s delivered</span></div>
      <div class=${'tile' + (last(dropped) + last(throttled) > 0 ? ' bad' : '')}><b data-tile="drops">${rate(last(dropped))} / ${rate(last(throttled))}</b><span>drops / throttles per s</span></div>
    </div>
    ${info.error ? html`<p class="error">${info.error}</p>` : ''}
    ${i?.health && !i.health.ok ? html`<p class="error" data-health>This hub is not healthy: ${i.health.reason}</p>` : ''}
    <div class="charts">
      <${Chart} title="Members" lines=${[{ label: 'alive', color: '#2a9d4b' }, { label: 'suspect', color: '#e0a100' }, { label: 'gone', color: '#c0392b' }]}
        data=${chartData(h, [levels(h, 'alive'), levels(h, 'suspect'), levels(h, 'gone')])} />
      <${Chart} title="Registry events" unit="per s" lines=${[{ label: 'events', color: '#3867d6' }]} data=${chartData(h, [events])} />
      <${Chart} title="Bus messages" unit="per s" lines=${[{ label: 'published', color: '#8854d0' }, { label: 'delivered', color: '#20bf6b' }]} data=${chartData(h, [published, delivered])} />
      <${Chart} title="Drops and throttles" unit="per s" lines=${[{ label: 'dropped', color: '#c0392b' }, { label: 'throttled', color: '#e67e22' }, { label: 'slow disconnects', color: '#7f8c8d' }, { label: 'watches dropped', color: '#34495e' }]}
        data=${chartData(h, [dropped, throttled, slow, watchDrops])} />
    </div>
    <div class="cards">
      ${s ? html`
        <${Counts} title="By type" counts=${s.byType} link=${(k: string) => href('members', { type: k })} />
        <${Counts} title="Components by state" counts=${s.byState} link=${(k: string) => href('components', { state: k })} />
        <${Counts} title="By face" counts=${s.byFace} link=${() => href('members')} />` : ''}
      ${i ? html`<section class="card"><h3>This hub</h3><table class="facts">
        <tr><td>hub id</td><td data-fact="hubId">${i.hubId}</td></tr>
        <tr><td>name</td><td>${i.hubName}</td></tr>
        <tr><td>version</td><td>${i.version}</td></tr>
        <tr><td>up since</td><td>${new Date(i.startedAt).toLocaleString()}</td></tr>
        <tr><td>store</td><td>${i.store}</td></tr>
        <tr><td>health</td><td data-fact="health" title=${i.health?.reason ?? ''}>${!i.health ? '' : i.health.ok ? 'ok' : 'not ok (above)'}</td></tr>
        <tr><td>revision</td><td>${i.revision}</td></tr>
        <tr><td>faces</td><td>${i.faces.map((f) => html`<div>${f.name} <code>${f.address}</code></div>`)}</td></tr>
        <tr><td>parent</td><td>${i.federation.registrar ?? '(root)'} ${i.federation.registrar ? (i.federation.connected ? '✓ linked' : '✗ ' + i.federation.lastError) : ''}</td></tr>
        <tr><td>child hubs</td><td>${i.federation.children} (${i.federation.descendants} below)</td></tr>
      </table></section>` : ''}
    </div>
  </div>`;
}
