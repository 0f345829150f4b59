/**
 * Tree: the federation as a live drawing (each hub asked now: link state, member counts), a
 * click on a hub lists its members. The cluster's hubs (several hubs sharing one store) get
 * their own row when /v1/info carries them (`cluster.hubs`); until then it says there is none.
 */
import type { HubInfo, TreeNode } from '../../client/index.js';
import { count } from '../format.js';
import { useClient, usePoll } from '../hooks.js';
import { html } from '../html.js';
import { href } from '../router.js';

const W = 190;
const H = 64;
const GAP_X = 24;
const GAP_Y = 56;

interface Placed { node: TreeNode; x: number; y: number; parent: Placed | null }

/** A tidy layout: leaves side by side, each parent centred over its children. */
export function layout(root: TreeNode): Placed[] {
  const out: Placed[] = [];
  let nextLeaf = 0;
  const place = (node: TreeNode, depth: number, parent: Placed | null): Placed => {
    const me: Placed = { node, x: 0, y: depth * (H + GAP_Y), parent };
    out.push(me);
    if (node.children.length === 0) me.x = nextLeaf++ * (W + GAP_X);
    else {
      const kids = node.children.map((c) => place(c, depth + 1, me));
      me.x = (kids[0]!.x + kids[kids.length - 1]!.x) / 2;
    }
    return me;
  };
  place(root, 0, null);
  return out;
}

/** What /v1/info says of the cluster this hub belongs to, in cluster mode (read loosely: older hubs say nothing). */
interface ClusterInfo {
  readonly prefix?: string;
  readonly healthy?: boolean;
  readonly hubs?: readonly { readonly hubId: string; readonly url?: string; readonly startedAt?: number }[];
}

function clusterOf(info: HubInfo | null): ClusterInfo | null {
  return (info as unknown as { cluster?: ClusterInfo } | null)?.cluster ?? null;
}

function Cluster(props: { info: HubInfo | null }) {
  const cluster = clusterOf(props.info);
  const hubs = cluster?.hubs ?? [];
  return html`<section class="card cluster" data-cluster=${hubs.length}><h3>The cluster's hubs</h3>
    ${cluster ? html`<p class="muted">sharing one registry and bus through Redis${cluster.prefix ? html` (prefix <code>${cluster.prefix}</code>)` : ''}:
      <span class=${'badge ' + (cluster.healthy === false ? 'gone' : 'alive')}>${cluster.healthy === false ? 'store unreachable' : 'healthy'}</span></p>
      <table><thead><tr><th>hub</th><th>address</th><th>up since</th></tr></thead><tbody>
      ${hubs.map((c) => html`<tr data-cluster-hub=${c.hubId}><td>${c.hubId}${c.hubId === props.info?.hubId ? ' · this hub' : ''}</td><td><code>${c.url ?? ''}</code></td>
        <td>${c.startedAt ? new Date(c.startedAt).toLocaleString() : ''}</td></tr>`)}
    </tbody></table>` : html`<p class="muted">This hub runs alone, not in a cluster of hubs sharing one store.</p>`}
  </section>`;
}

export function Tree() {
  const client = useClient();
  const tree = usePoll(() => client.call('hub.tree', {}), 3_000, [client]);
  const info = usePoll(() => client.info(), 5_000, [client]);
  const root = tree.data;
  const placed = root ? layout(root) : [];
  const width = Math.max(W, ...placed.map((p) => p.x + W)) + 2;
  const height = Math.max(H, ...placed.map((p) => p.y + H)) + 2;
  const hubCount = placed.length;
  return html`<div>
    ${tree.error ? html`<p class="error" role="alert">${tree.error}</p>` : ''}
    <p class="muted">${hubCount ? `${hubCount} hub${hubCount > 1 ? 's' : ''} in this hub's subtree; each was asked just now.` : 'asking the tree…'}</p>
    <div class="tree-box">
      <svg class="tree" width=${width} height=${height} viewBox=${`-1 -1 ${width} ${height}`} role="img" aria-label="federation tree">
        ${placed.filter((p) => p.parent).map((p) => html`<path class=${'link ' + p.node.status}
          d=${`M${p.parent!.x + W / 2},${p.parent!.y + H} C${p.parent!.x + W / 2},${p.y - GAP_Y / 2} ${p.x + W / 2},${p.parent!.y + H + GAP_Y / 2} ${p.x + W / 2},${p.y}`} />`)}
        ${placed.map((p, i) => html`<a href=${i === 0 ? href('members') : href('members', { hub: p.node.hubId })} data-hub=${p.node.hubId} data-status=${p.node.status}>
          <g class=${'hub ' + p.node.status} transform=${`translate(${p.x},${p.y})`}>
            <rect width=${W} height=${H} rx="8" />
            <text x="10" y="22" class="hub-id">${p.node.hubId}</text>
            <text x="10" y="42" class="hub-status">${p.node.status}${i === 0 ? ' · this hub' : ''}</text>
            <text x="10" y="58" class="hub-members">${p.node.members ? `${count(p.node.members.total)} members, ${count(p.node.members.alive)} alive` : 'members unknown'}</text>
          </g></a>`)}
      </svg>
    </div>
    <${Cluster} info=${info.data} />
  </div>`;
}
