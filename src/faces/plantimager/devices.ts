/**
 * plantimager's registry rules on top of muster's registry: eviction by address and by
 * `overwrite`, naming, expiry by alive checks. Devices are ordinary ttl members labelled
 * `meta.face = plantimager`; the face can evict, refresh or remove only such members, never a
 * native member (those need their token), so an unauthenticated legacy client cannot touch them.
 *
 * A device's uuid is all a plantimager client needs to unregister it, so it is a secret: it is the
 * member's token (kept only as a hash, as every token is, so it survives restarts) and never its
 * id. The member's public id is another random uuid.
 */
import { randomUUID } from 'node:crypto';
import type { Member, Registry } from '../../core/registry/registry.js';
import { hashToken } from '../../core/tokens.js';
import { aliveUntil } from './alive-window.js';
import { FACE_LABEL, isDevice } from './label.js';
import { ALIVE_TIMEOUT_S, type PlantimagerRequest } from './codec.js';
import { chooseName, memberType } from './naming.js';

type Register = Extract<PlantimagerRequest, { event: 'REGISTER' }>;

/** The registry's ttl bounds (ms): alive_timeout outside them is clamped for the stored ttl only. */
const TTL_MIN_MS = 100;
const TTL_MAX_MS = 86_400_000;

export class PlantimagerDevices {
  readonly #registry: Registry;
  /** addr -> devices registered there, so registration evicts without scanning. */
  readonly #byAddr = new Map<string, Set<Member>>();
  /** The address each device is indexed under (an admin may change a member's address later). */
  readonly #indexedAt = new WeakMap<Member, string>();

  constructor(registry: Registry) {
    this.#registry = registry;
    // One scan at start: devices restored from the store, each given at least its ttl in whole seconds.
    const now = Date.now();
    for (const m of registry.members()) {
      if (!isDevice(m)) continue;
      this.#indexAddr(m);
      if (m.liveness.kind === 'ttl') registry.expireAt(m, aliveUntil(now, Math.ceil(m.liveness.ttlMs / 1000)));
    }
    registry.onRemoved((m) => {
      if (isDevice(m)) this.#unindexAddr(m);
    });
  }

  /** Evicts by address (and by name with overwrite), picks the name, adds; resolves once durable. */
  async register(req: Register): Promise<{ id: string; name: string; uuid: string }> {
    const evict = new Set<Member>();
    for (const m of this.#byAddr.get(req.addr) ?? []) if (this.#live(m) && m.address === req.addr) evict.add(m);
    if (req.overwrite) {
      const holder = this.#deviceNamed(chooseNameAsIs(req));
      if (holder) evict.add(holder);
    }
    const freed = new Set([...evict].map((m) => m.name));
    const name = chooseName(req.name, req.deviceType, (n) => !freed.has(n) && this.#registry.names.isTaken(n));
    const uuid = randomUUID();
    const member = this.#registry.createMember({
      id: randomUUID(), name, type: memberType(req.deviceType), address: req.addr, meta: { face: FACE_LABEL },
      liveness: { kind: 'ttl', ttlMs: ALIVE_TIMEOUT_S * 1000 },
      tokenHash: hashToken(uuid), registeredAt: Date.now(),
    });
    // Everything up to add()'s first await is synchronous, so concurrent registrations see each other.
    const added = this.#registry.add(member, undefined, [...evict]);
    this.#registry.expireAt(member, aliveUntil(Date.now(), ALIVE_TIMEOUT_S));
    this.#indexAddr(member);
    try {
      await added;
    } catch (err) {
      if (!this.#live(member)) this.#unindexAddr(member);
      throw err;
    }
    return { id: member.id, name: member.name, uuid };
  }

  /** True if the uuid was a device and is now removed. */
  async unregister(uuid: string): Promise<boolean> {
    const m = this.#device(uuid);
    if (!m) return false;
    await this.#registry.remove(m, 'unregistered');
    return true;
  }

  /**
   * Expiry becomes the end of the whole second int(now) + alive_timeout; false for an unknown uuid.
   * The device's ttl is stored (one write when its alive_timeout changes, none otherwise) so that a
   * restart gives it the same time.
   */
  checkAlive(uuid: string, aliveTimeoutS: number): boolean {
    const m = this.#device(uuid);
    if (!m) return false;
    const ttlMs = Math.min(TTL_MAX_MS, Math.max(TTL_MIN_MS, Math.round(aliveTimeoutS * 1000)));
    if (m.liveness.kind === 'ttl' && m.liveness.ttlMs !== ttlMs) {
      m.liveness = { kind: 'ttl', ttlMs };
      // In a cluster, written again until Redis takes it: else the other hubs (and this one after a restart) keep the old ttl.
      void this.#registry.changed(m).catch(() => {});
    }
    // keepAlive counts the check and marks the device seen; expireAt then sets the original's window.
    this.#registry.keepAlive(m);
    this.#registry.expireAt(m, aliveUntil(Date.now(), aliveTimeoutS));
    return true;
  }

  /** The device whose uuid (its token) this is; a native member's token finds nothing here. */
  #device(uuid: string): Member | undefined {
    const m = this.#registry.findByToken(uuid);
    return m && isDevice(m) ? m : undefined;
  }

  #deviceNamed(name: string): Member | undefined {
    const m = this.#registry.find(name);
    return m && m.name === name && isDevice(m) ? m : undefined;
  }

  #live(m: Member): boolean {
    return this.#registry.find(m.id) === m;
  }

  #indexAddr(m: Member): void {
    let set = this.#byAddr.get(m.address);
    if (!set) this.#byAddr.set(m.address, (set = new Set()));
    set.add(m);
    this.#indexedAt.set(m, m.address);
  }

  #unindexAddr(m: Member): void {
    const addr = this.#indexedAt.get(m);
    const set = addr === undefined ? undefined : this.#byAddr.get(addr);
    if (!set) return;
    set.delete(m);
    if (set.size === 0) this.#byAddr.delete(addr!);
  }
}

/** The name `overwrite` targets: the proposed name itself (or `{device_type}-0` for an empty one). */
function chooseNameAsIs(req: Register): string {
  return chooseName(req.name, req.deviceType, () => false);
}
