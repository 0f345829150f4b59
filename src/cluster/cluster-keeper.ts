/**
 * Keeps a hub's place in its cluster: a lease it renews (one hub id is one live process), the
 * list of the cluster's hubs, and two duties every hub shares so that none depends on one hub:
 * expiring members whose deadline passed and reaping hubs whose lease ran out. Both are Lua
 * scripts, so each member expires once and each lost hub is reaped once, whichever hub runs them.
 */
import type { Logger } from 'pino';
import { MusterError } from '../errors.js';
import type { Scripts } from './redis-scripts.js';
import { EXPIRE, REAP } from './scripts.js';

export interface ClusterKeeperOptions {
  /** A command within the store's timeout (STORE_UNAVAILABLE otherwise). */
  send<T>(args: string[]): Promise<T>;
  /** Commands of this hub's that Redis failed (not answered in time, refused, not connected) so far. */
  failures(): number;
  /** Whether this hub's connection to Redis is up. */
  connected(): boolean;
  /** Heartbeats this hub answered whose deadline Redis has not taken yet (touches.ts). */
  unwritten(): number;
  scripts: Scripts;
  prefix: string;
  hubId: string;
  instance: string;
  url: string;
  leaseMs: number;
  graceMs: number;
  eventRetention: number;
  log: Logger;
  /** Hubs reaped by this hub (their interest and routes go). */
  onHubLost(hubId: string): void;
  /** Hubs seen in the list again or for the first time (what they want is read again). */
  onHubJoined(hubId: string): void;
}

export interface ClusterHub {
  hubId: string;
  url: string;
  startedAt: number;
}

/** How often every hub looks for members past their deadline (the expiry lag is about this). */
const EXPIRE_EVERY_MS = 25;
const EXPIRE_BATCH = 500;
/**
 * After Redis failed a command of this hub, no expiry run until this hub has been connected for
 * this long without a failure. Heartbeats Redis did not take meanwhile are written once it takes
 * them again (touches.ts), every hub's within about a second (its reconnection backoff is at most
 * 1 s): expired before, a member whose client never stopped would be removed.
 *
 * A Redis that fails now and then (refusing writes for a moment, a command timing out) may never
 * give that calm; held for as long as that went on, no member expired, and a device that died
 * stayed alive at every hub. So a hold that has lasted a lease past EXPIRY_HOLD_MS also ends in a
 * calm stretch in which Redis took this hub's lease (renewed in each stretch to find out), if it
 * took it in an earlier stretch of the hold too, and this hub has written every heartbeat it kept:
 * Redis works between its failures, and every hub that reaches it wrote what it kept (its tries
 * are 100 ms apart). A hold that starts soon after one that ended so is more of the same. After a
 * single outage the first calm stretch is the first such: the 2 s wait stands for every hub to
 * reconnect.
 */
export const EXPIRY_HOLD_MS = 2_000;
const PROBE_AFTER_MS = 100;
/** Members of lost hubs made suspect per script call (each call stops Redis for its length). */
const REAP_BATCH = 500;
const REAP_EVERY_MS = 1_000;

export class ClusterKeeper {
  readonly #o: ClusterKeeperOptions;
  readonly #timers: NodeJS.Timeout[] = [];
  #hubs = new Map<string, ClusterHub>();
  #expiring = false;
  #reaping = false;
  /** The failures count last seen, and since when this hub has been connected without one (null: held until connected). */
  #failuresSeen = 0;
  #calmSince: number | null = 0;
  /** Expiry held: since when, the lease renewals at the current calm stretch's start, and the earlier stretches with one. */
  #heldSince: number | null = null;
  #renewalsAtCalm = 0;
  #provenStretches = 0;
  /** The current calm stretch's lease renewal was asked for (a hold tries Redis once a stretch). */
  #probed = false;
  /** Until when a new hold goes on from the last, which ended as Redis failed now and then. */
  #flakyUntil = 0;
  readonly stats = { expired: 0, reaped: 0, leaseRenewals: 0, leaseFailures: 0 };

  constructor(options: ClusterKeeperOptions) {
    this.#o = options;
    this.#failuresSeen = options.failures();
  }

  get #p(): string {
    return this.#o.prefix;
  }

  /** Takes the lease of this hub id (refused while another process holds it) and joins the list. */
  async start(): Promise<void> {
    const o = this.#o;
    // A hub killed and started again finds its old lease still running: it waits that lease out.
    const until = Date.now() + o.leaseMs + 500;
    let got: string | null = null;
    while ((got = await o.send<string | null>(['SET', `${this.#p}:lease:${o.hubId}`, o.instance, 'PX', String(o.leaseMs), 'NX'])) !== 'OK' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 250));
    }
    if (got !== 'OK') {
      throw new MusterError('HUB_ID_TAKEN', `Hub id ${o.hubId} is held by another running hub of this cluster (its lease has up to ${o.leaseMs} ms to run out if it was killed)`, { hub: o.hubId });
    }
    await o.send(['HSET', `${this.#p}:hubs`, o.hubId, JSON.stringify({ url: o.url, startedAt: Date.now() })]);
    await this.#announce();
    await this.#refreshHubs();
    this.#every(Math.max(100, Math.floor(o.leaseMs / 3)), () => this.#renew());
    this.#every(REAP_EVERY_MS, () => this.#reap());
    this.#every(EXPIRE_EVERY_MS, () => this.#expire());
  }

  /**
   * Reads the list again now (a hub told the list changed). Every hub also reads it each second,
   * which covers a notice missed while its subscription was down.
   */
  refresh(): void {
    void this.#refreshHubs().catch((err: unknown) => this.#o.log.debug({ err: (err as Error).message }, 'reading the hub list failed; next round'));
  }

  /**
   * Tells the others the list changed, so they route to a new hub at once rather than within a
   * second (until then, a message to one of its members is not sent, and a publication that also
   * came through a federation tree would not be known as the same one).
   */
  async #announce(): Promise<void> {
    await this.#o.send(['PUBLISH', `${this.#p}:hubs`, this.#o.hubId]);
  }

  /** The cluster's hubs as last read (this one included). */
  hubs(): ReadonlyMap<string, ClusterHub> {
    return this.#hubs;
  }

  /** Leaves the cluster: the lease goes at once, so its session members are not reaped as lost. */
  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    const o = this.#o;
    // Side by side, so a Redis that does not answer costs one timeout, not one per command.
    const left = await Promise.all([o.send(['DEL', `${this.#p}:lease:${o.hubId}`]), o.send(['HDEL', `${this.#p}:hubs`, o.hubId])]).then(() => true, () => false);
    if (left) await this.#announce().catch(() => {});
  }

  #every(ms: number, work: () => Promise<void>): void {
    const t = setInterval(() => void work().catch((err: unknown) => this.#o.log.debug({ err: (err as Error).message }, 'cluster duty failed; next round')), ms);
    t.unref();
    this.#timers.push(t);
  }

  /**
   * The store was wiped (its history, leases and list with it): this hub's lease and place in the
   * list at once, rather than at the next renewal, so the others do not take it as lost for long.
   */
  async rejoined(): Promise<void> {
    const o = this.#o;
    await o.send(['SET', `${this.#p}:lease:${o.hubId}`, o.instance, 'PX', String(o.leaseMs)]);
    await o.send(['HSET', `${this.#p}:hubs`, o.hubId, JSON.stringify({ url: o.url, startedAt: Date.now() })]);
    await this.#announce();
  }

  async #renew(): Promise<void> {
    const o = this.#o;
    try {
      await o.send(['SET', `${this.#p}:lease:${o.hubId}`, o.instance, 'PX', String(o.leaseMs)]);
      // Reaped while Redis or this hub stood still: join the list again (its members are suspect; they come back as clients reconnect).
      if (await o.send<number>(['HSETNX', `${this.#p}:hubs`, o.hubId, JSON.stringify({ url: o.url, startedAt: Date.now() })]) === 1) await this.#announce();
      this.stats.leaseRenewals++;
    } catch (err) {
      this.stats.leaseFailures++;
      throw err;
    }
  }

  async #reap(): Promise<void> {
    if (this.#reaping) return;
    this.#reaping = true;
    const o = this.#o;
    try {
      // A batch a call, each its own turn of Redis and of every hub, until no lost hub holds members.
      for (let more = true; more;) {
        const [left, ...reaped] = await o.scripts.run<[number, ...string[]]>(REAP, [this.#p, String(Date.now()), String(o.graceMs), String(o.eventRetention), o.hubId, String(o.leaseMs), String(REAP_BATCH)]);
        more = left === 1;
        for (const hub of reaped) {
          this.stats.reaped++;
          this.#o.log.warn({ hub }, 'a hub of the cluster lost its lease; its session members are suspect');
        }
        if (reaped.length > 0) await this.#announce();
      }
      await this.#refreshHubs();
    } finally {
      this.#reaping = false;
    }
  }

  async #expire(): Promise<void> {
    if (this.#expiring || this.#holdingExpiry()) return;
    this.#expiring = true;
    try {
      for (;;) {
        const n = await this.#o.scripts.run<number>(EXPIRE, [this.#p, String(Date.now()), String(EXPIRE_BATCH), String(this.#o.eventRetention)]);
        this.stats.expired += n;
        if (n < EXPIRE_BATCH) break;
      }
    } finally {
      this.#expiring = false;
    }
  }

  /** Whether expiry runs are held now (as the last run found it). */
  get expiryHeld(): boolean {
    return this.#heldSince !== null;
  }

  /** After a failure, until connected and calm for EXPIRY_HOLD_MS (or, Redis failing now and then, see there). */
  #holdingExpiry(): boolean {
    const failures = this.#o.failures();
    const now = Date.now();
    const renewals = this.stats.leaseRenewals;
    if (failures !== this.#failuresSeen || !this.#o.connected()) {
      this.#failuresSeen = failures;
      if (this.#heldSince === null) {
        // Soon after a hold that ended as Redis went on failing now and then, this one is more of it.
        const more = now < this.#flakyUntil;
        this.#heldSince = more ? now - EXPIRY_HOLD_MS - this.#o.leaseMs : now;
        this.#provenStretches = more ? 1 : 0;
      } else if (this.#calmSince !== null && renewals > this.#renewalsAtCalm) this.#provenStretches++;
      this.#calmSince = null;
      return true;
    }
    if (this.#calmSince === null) {
      this.#calmSince = now;
      this.#renewalsAtCalm = renewals;
      this.#probed = false;
    }
    if (this.#heldSince === null) return false;
    // Whether Redis takes writes in this stretch: the lease renewed now, not at its next turn (which
    // may fall in Redis's failing moments every time); after 100 ms of calm, so not in a loop.
    if (!this.#probed && now - this.#calmSince >= PROBE_AFTER_MS) {
      this.#probed = true;
      this.#renew().catch(() => {});
    }
    const calm = now - this.#calmSince >= EXPIRY_HOLD_MS;
    const flaky = now - this.#heldSince >= EXPIRY_HOLD_MS + this.#o.leaseMs && this.#provenStretches > 0
      && renewals > this.#renewalsAtCalm && this.#o.unwritten() === 0;
    if (calm || flaky) this.#heldSince = null;
    if (flaky && !calm) this.#flakyUntil = now + EXPIRY_HOLD_MS + this.#o.leaseMs;
    return this.#heldSince !== null;
  }

  async #refreshHubs(): Promise<void> {
    const all = await this.#o.send<string[]>(['HGETALL', `${this.#p}:hubs`]);
    const next = new Map<string, ClusterHub>();
    for (let i = 0; i + 1 < all.length; i += 2) {
      const info = JSON.parse(all[i + 1]!) as { url: string; startedAt: number };
      next.set(all[i]!, { hubId: all[i]!, url: info.url, startedAt: info.startedAt });
    }
    for (const hub of this.#hubs.keys()) if (!next.has(hub)) this.#o.onHubLost(hub);
    const known = this.#hubs;
    this.#hubs = next;
    for (const hub of next.keys()) if (!known.has(hub) && hub !== this.#o.hubId) this.#o.onHubJoined(hub);
  }
}
