/** Helpers of the tests that build trees of hubs: admin HTTP calls, session members, the hub ids of a tree. */
import { connect, type MusterClient } from '../../src/client/index.js';
import type { TreeNode } from '../../src/schemas/federation.js';
import { ADMIN_TOKEN } from './hub.js';

/** An HTTP call with the admin token; the answer's status and JSON body. */
export async function adminHttp<T = unknown>(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(url + path, {
    method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** A session member of type svc named `name` at `url`, its client kept in `clients` (to be closed after). */
export async function sessionMember(url: string, name: string, clients: MusterClient[]): Promise<MusterClient> {
  const c = await connect({ url, reconnect: { initialDelayMs: 50, maxDelayMs: 300 } });
  clients.push(c);
  await c.register({ name, type: 'svc', liveness: 'session' });
  return c;
}

/** The hub ids of a tree, depth first. */
export const hubIds = (n: TreeNode): string[] => [n.hubId, ...n.children.flatMap(hubIds)];
