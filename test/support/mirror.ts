/** A hub's mirror of the shared store on its own (core/registry/mirror.ts), with an index of its own, for tests of what it does with the feed. */
import { liveMember, type Member } from '../../src/core/registry/member.js';
import { MemberIndex } from '../../src/core/registry/member-index.js';
import { Mirror } from '../../src/core/registry/mirror.js';
import type { RemovalReason } from '../../src/schemas/member.js';

export const HUB = 'here';
const TTL = { kind: 'ttl', ttlMs: 60_000 } as const;

export function member(id: string, name: string, attachedTo: string, address = ''): Member {
  return liveMember({ id, name, type: 't', address, meta: {}, liveness: TTL, tokenHash: `h-${id}`, registeredAt: 1, attachedTo }, TTL as Member['liveness'], 1);
}

export function mirrorSetup(): { index: MemberIndex; mirror: Mirror; removed: [string, RemovalReason][] } {
  const index = new MemberIndex();
  const removed: [string, RemovalReason][] = [];
  const mirror = new Mirror(index, {
    hubId: HUB,
    create: (init) => member(init.id, init.name, init.attachedTo ?? HUB, init.address),
    added: () => {},
    removed: (m, reason) => { index.delete(m); removed.push([m.name, reason]); },
    movedAway: () => {},
    movedHere: () => {},
  });
  return { index, mirror, removed };
}
