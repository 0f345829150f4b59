/**
 * CO2 satellites on muster's registry. A satellite is an ordinary member (type co2-satellite,
 * meta face=co2, probe liveness: the hub's pinger) bound to a SatelliteLink, so the bus, watches,
 * `muster ls` and /metrics see it like any other member. Its host_id is its member id; its nick
 * is the proposed name; its notify_pass is a member secret (persisted, never shown). Members
 * survive restarts in muster's store (the original's dump file): at start the face binds a new
 * link to every stored satellite (one scan), so satellites keep their host ids without
 * registering again. Relays are publications on RELAY_SCOPE: every link subscribes there.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { BusPayload } from '../../core/bus/message.js';
import { trafficOf } from '../../core/bus/admission.js';
import { parseScope } from '../../core/bus/scope.js';
import type { Member } from '../../core/registry/registry.js';
import { hashToken } from '../../core/tokens.js';
import { MusterError } from '../../errors.js';
import type { HubContext } from '../context.js';
import { toJsonText } from './json-map.js';
import { NotifyCodec } from './notify-codec.js';
import { SatelliteLink, type LinkLimits } from './satellite-link.js';
import type { XmlRpcValue } from './values.js';

export const SATELLITE_TYPE = 'co2-satellite';
export const FACE_LABEL = 'co2';
export const RELAY_SCOPE = parseScope('/co2/relay/');

export interface PingSettings {
  intervalMs: number;
  timeoutMs: number;
  failures: number;
}

export interface SatelliteSettings {
  maxSats: number;
  ping: PingSettings;
  link: LinkLimits;
  /** How long a connection to a satellite stays open without calls. */
  idleMs: number;
}

export interface RegisterRequest {
  readonly port: number;
  readonly nick: string | undefined;
  readonly plugins: readonly string[];
  readonly notifyPass: string | undefined;
}

/** What the face knows of a satellite beside its member record. */
export interface Satellite {
  readonly member: Member;
  readonly ip: string;
  readonly port: number;
  readonly link: SatelliteLink;
}

export function isSatellite(m: Member): boolean {
  return m.type === SATELLITE_TYPE && m.meta.face === FACE_LABEL;
}

export class Satellites {
  readonly #hub: HubContext;
  readonly #settings: SatelliteSettings;
  readonly #log: Logger;
  readonly #codec: NotifyCodec;
  readonly #byId = new Map<string, Satellite>();
  /** ip:port -> satellite: a satellite registering again from where it listens replaces itself. */
  readonly #byAddr = new Map<string, Satellite>();

  constructor(hub: HubContext, settings: SatelliteSettings, log: Logger) {
    this.#hub = hub;
    this.#settings = settings;
    this.#log = log;
    this.#codec = new NotifyCodec((sender) => hub.registry.find(sender)?.id ?? sender);
    hub.registry.onRemoved((m, reason) => this.#forget(m, reason));
  }

  get count(): number {
    return this.#byId.size;
  }

  get maxSats(): number {
    return this.#settings.maxSats;
  }

  hostIds(): string[] {
    return [...this.#byId.keys()];
  }

  /** The satellite with this host_id; NO_SUCH_MEMBER otherwise. */
  find(hostId: string): Satellite {
    const s = this.#byId.get(hostId);
    if (!s) throw new MusterError('NO_SUCH_MEMBER', `No satellite with host_id ${JSON.stringify(hostId.slice(0, 80))} is registered`, { host_id: hostId.slice(0, 80) });
    return s;
  }

  /** One scan at start: every stored satellite gets a link (and today's ping settings). */
  async rebindAll(): Promise<number> {
    const waits: Promise<void>[] = [];
    for (const m of [...this.#hub.registry.members()]) {
      if (!isSatellite(m)) continue;
      const addr = parseHostPort(m.address);
      if (!addr) continue;
      const sat = this.#index(m, addr.ip, addr.port, m.secrets?.notify_pass);
      m.liveness = this.#liveness(addr.ip, addr.port);
      waits.push(this.#hub.registry.resume(m, sat.link).then(() => { this.#hub.bus.subscribe(sat.link, RELAY_SCOPE, false); }));
    }
    await Promise.all(waits);
    return waits.length;
  }

  async register(req: RegisterRequest, ip: string): Promise<string> {
    const previous = this.#byAddr.get(hostPort(ip, req.port));
    if (this.#byId.size - (previous ? 1 : 0) >= this.#settings.maxSats) {
      throw new MusterError('REGISTRY_FULL', `The relay has ${this.#byId.size} satellites, its limit (max_sats)`, { max: this.#settings.maxSats });
    }
    const id = randomUUID();
    const name = freeName(baseName(req.nick, id), (n) => n !== previous?.member.name && this.#hub.registry.names.isTaken(n));
    const meta: Record<string, string> = { face: FACE_LABEL };
    if (req.nick !== undefined) meta.nick = req.nick;
    if (req.plugins.length) meta.plugins = req.plugins.join(',');
    const member = this.#hub.registry.createMember({
      id, name, type: SATELLITE_TYPE, address: hostPort(ip, req.port), meta, liveness: this.#liveness(ip, req.port),
      // Satellites present no token: an unguessable hash nobody holds the token of.
      tokenHash: hashToken(randomUUID()), registeredAt: Date.now(),
      ...(req.notifyPass ? { secrets: { notify_pass: req.notifyPass } } : {}),
    });
    // Indexed before the first await, so concurrent registrations count each other against max_sats.
    const sat = this.#index(member, ip, req.port, req.notifyPass);
    try {
      await this.#hub.registry.add(member, sat.link, previous ? [previous.member] : []);
    } catch (err) {
      this.#forget(member, 'unregistered');
      throw err;
    }
    this.#hub.bus.subscribe(sat.link, RELAY_SCOPE, false);
    this.#log.debug({ host_id: id, name, addr: member.address }, 'satellite registered');
    return id;
  }

  /** Only from the satellite's own IP address, or with the admin token. */
  async deregister(hostId: string, callerIp: string, adminToken: string | undefined): Promise<void> {
    const sat = this.find(hostId);
    if (sat.ip !== callerIp && !this.#hub.registry.isAdmin(adminToken)) {
      throw new MusterError('FORBIDDEN', `Only the satellite itself (at ${sat.ip}) or the admin may deregister ${hostId}`);
    }
    await this.#hub.registry.remove(sat.member, 'unregistered');
  }

  /** Publishes a satellite's data on RELAY_SCOPE (every other satellite, native subscribers); THROTTLED past its rate. */
  relay(sat: Satellite, data: XmlRpcValue): void {
    const payload = BusPayload.json(toJsonText(data));
    this.#codec.remember(payload, data);
    this.#hub.bus.publish({ name: sat.member.name, member: sat.member, connection: sat.link }, RELAY_SCOPE, payload, {});
    this.#hub.registry.touch(sat.member);
  }

  /** Closes every link (the hub is stopping); members stay in the store. */
  closeAll(reason: string): void {
    for (const sat of this.#byId.values()) {
      sat.link.close(reason);
      this.#hub.registry.connectionClosed(sat.link);
    }
    this.#byId.clear();
    this.#byAddr.clear();
  }

  #liveness(ip: string, port: number): Member['liveness'] {
    const p = this.#settings.ping;
    return { kind: 'probe', target: `xmlrpc://${hostPort(ip, port)}/RPC2`, intervalMs: p.intervalMs, timeoutMs: p.timeoutMs, failures: p.failures };
  }

  #index(member: Member, ip: string, port: number, notifyPass: string | undefined): Satellite {
    const link = new SatelliteLink({ host: ip, port, path: '/RPC2' }, notifyPass, {
      codec: this.#codec, idleMs: this.#settings.idleMs, limits: this.#settings.link, log: this.#log,
      onNotifyFailed: () => { trafficOf(member).dropped++; },
    });
    const sat: Satellite = { member, ip, port, link };
    this.#byId.set(member.id, sat);
    this.#byAddr.set(hostPort(ip, port), sat);
    return sat;
  }

  #forget(m: Member, reason: string): void {
    const sat = this.#byId.get(m.id);
    if (!sat || sat.member !== m) return;
    this.#byId.delete(m.id);
    const key = hostPort(sat.ip, sat.port);
    if (this.#byAddr.get(key) === sat) this.#byAddr.delete(key);
    sat.link.close(reason);
    this.#hub.registry.connectionClosed(sat.link);
  }
}

/** `ip:port`, IPv6 in brackets. */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function parseHostPort(address: string): { ip: string; port: number } | null {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address);
  return m ? { ip: m[1]!, port: Number(m[2]) } : null;
}

/** A nick made a valid member name (characters outside [A-Za-z0-9._-] become -); none: the host id. */
function baseName(nick: string | undefined, hostId: string): string {
  const n = (nick ?? '').replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return n === '' || n === '.' || n === '..' ? hostId : n;
}

function freeName(base: string, taken: (name: string) => boolean): string {
  if (!taken(base)) return base;
  for (let i = 1; i <= 100_000; i++) {
    const suffix = `-${i}`;
    const candidate = base.slice(0, 64 - suffix.length) + suffix;
    if (!taken(candidate)) return candidate;
  }
  throw new MusterError('NAME_TAKEN', `No free name like ${base}`);
}
