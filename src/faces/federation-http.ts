/** Federation over HTTP: the tree of hubs below this one. */
import type { Federation } from '../core/federation/federation.js';
import { TreeNode } from '../schemas/federation.js';
import type { HttpRoute } from './http.js';

export function federationHttpRoutes(federation: Federation): HttpRoute[] {
  return [
    {
      method: 'GET', url: '/v1/tree', response: TreeNode,
      summary: 'This hub and every hub below it, each asked now: status (up, suspect, unreachable), points of access and member counts.',
      handler: () => federation.tree(),
    },
  ];
}
