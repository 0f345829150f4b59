/**
 * The parent's side of hub-to-hub links: `hub.*` JSON-RPC methods on /v1/ws. A child hub calls
 * hub.register (with the federation token) and then, on the same connection, hub.update,
 * hub.check, hub.forward, hub.interest, hub.publish and hub.deregister. The parent uses the same
 * connection to call the child (hub.ping, hub.forward) and to notify it (hub.interest, hub.publish).
 */
import { Type } from '@sinclair/typebox';
import type { Federation, HubLink } from '../core/federation/federation.js';
import { isErrorCode, MusterError } from '../errors.js';
import {
  ForwardParams, HubCheckParams, HubCheckResult, HubHello, HubPublish, HubRegisterParams, HubUpdateParams, InterestParams, Ok, TreeNode,
} from '../schemas/federation.js';
import { PeerError, wsMethod, type WsConnection, type WsMethod } from './ws.js';

/** A child hub's connection as a HubLink: calls are hub-to-client requests. */
class ChildLink implements HubLink {
  readonly #conn: WsConnection;
  constructor(conn: WsConnection) {
    this.#conn = conn;
  }
  get open(): boolean {
    return this.#conn.open;
  }
  get backlog(): number {
    return this.#conn.outboundBytes;
  }
  async call(method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    try {
      return await this.#conn.request(method, params, timeoutMs);
    } catch (err) {
      throw linkError(err);
    }
  }
  notify(method: string, paramsJson: string): void {
    this.#conn.notify(method, paramsJson);
  }
  close(reason: string): void {
    this.#conn.close(4001, reason);
  }
}

/** The far hub's own error keeps its code; no answer or a dropped link is HUB_UNREACHABLE. */
export function linkError(err: unknown): MusterError {
  if (err instanceof PeerError) {
    const data = (typeof err.rpcError.data === 'object' && err.rpcError.data !== null ? err.rpcError.data : {}) as { code?: unknown; details?: unknown };
    const code = isErrorCode(data.code) ? data.code : 'INTERNAL';
    const details = typeof data.details === 'object' && data.details !== null ? (data.details as Record<string, unknown>) : undefined;
    return new MusterError(code, err.rpcError.message, details);
  }
  const e = err instanceof MusterError ? err : null;
  return new MusterError('HUB_UNREACHABLE', `The next hub did not answer: ${e?.message ?? String(err)}`);
}

export function federationWsMethods(federation: Federation): WsMethod[] {
  const links = new WeakMap<WsConnection, ChildLink>();
  const linkOf = (conn: WsConnection): ChildLink => {
    let link = links.get(conn);
    if (!link) {
      links.set(conn, (link = new ChildLink(conn)));
      conn.onClose(() => federation.childLinkClosed(conn));
    }
    return link;
  };
  const child = (conn: WsConnection) => federation.childOf(conn);

  return [
    wsMethod({
      name: 'hub.register', summary: 'Child hub: register here with the federation token, its points of access and its descendant hubs.',
      params: HubRegisterParams, result: HubHello,
      run: (conn, p) => federation.acceptChild(linkOf(conn), conn, p),
    }),
    wsMethod({
      name: 'hub.update', summary: 'Child hub: its descendant list changed (refused with HUB_ID_TAKEN if an id is used elsewhere in the tree).',
      params: HubUpdateParams, result: Ok,
      run: async (conn, p) => { await federation.updateChild(child(conn), p.descendants); return { ok: true as const }; },
    }),
    wsMethod({
      name: 'hub.check', summary: "Child hub's connection monitor: does this hub still hold its record? (known: false means register again)",
      params: HubCheckParams, result: HubCheckResult,
      run: (conn, p) => ({ known: federation.checkChild(conn, p.hubId, p.instance) }),
    }),
    wsMethod({
      name: 'hub.deregister', summary: 'Child hub: leave; its record and everything below it are removed at once.',
      params: Type.Object({}, { additionalProperties: false }), result: Ok,
      run: async (conn) => { await federation.removeChild(child(conn), 'unregistered'); return { ok: true as const }; },
    }),
    wsMethod({
      name: 'hub.forward', summary: 'Child hub: run an operation (get, list, send, request, configure, stop, tree) on hub `to`, forwarded along the tree.',
      params: ForwardParams, result: Type.Unknown(),
      run: (conn, p) => { child(conn); return federation.forward(p.to, p.op, p.params, linkOf(conn), p.hops); },
    }),
    wsMethod({
      name: 'hub.interest', summary: 'Child hub: the tree-wide scopes it wants publications on (replaces its previous set).',
      params: InterestParams, result: Ok,
      run: (conn, p) => { child(conn); federation.declareInterest(linkOf(conn), p.scopes); return { ok: true as const }; },
    }),
    wsMethod({
      name: 'hub.publish', summary: 'Child hub: a publication on a tree-wide scope (a notification).',
      params: HubPublish, result: Ok,
      run: (conn, p) => { child(conn); federation.published(linkOf(conn), p); return { ok: true as const }; },
    }),
    wsMethod({
      name: 'hub.tree', summary: 'This hub and every hub below it, with status and member counts.',
      params: Type.Object({}, { additionalProperties: false }), result: TreeNode,
      run: () => federation.tree(),
    }),
  ];
}
