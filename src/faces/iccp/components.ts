/**
 * What ICCP messages do to muster's registry and lifecycle. A component is a member named after
 * its endpoint (type `saturnin`, `meta.face = iccp`, its uid, pid and host in meta, the endpoint
 * as its address) bound to the session it sent READY on. READY registers it, or starts a new run
 * of the member kept from an earlier session; its answers go to the control service, whose table
 * (ICCP dialect) decides. Whatever goes wrong fails only that session: the reason is recorded
 * (member history, the endpoint's lastError, the log, the errors metric) and the endpoint is
 * bound again for a new session.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { toMusterError } from '../../errors.js';
import type { Answer } from '../../core/control/control.js';
import type { Member } from '../../core/registry/registry.js';
import { hashToken, newToken } from '../../core/tokens.js';
import type { HubContext } from '../context.js';
import { decode, type IccpMessage, type Peer } from './codec.js';
import type { IccpMetrics } from './metrics.js';
import type { EndpointEvents, PairEndpoint } from './pair-endpoint.js';
import { IccpSession } from './session.js';

export const FACE_LABEL = 'iccp';
export const MEMBER_TYPE = 'saturnin';

export function isIccpComponent(m: Member): boolean {
  return m.type === MEMBER_TYPE && m.meta.face === FACE_LABEL;
}

/** What the face keeps of each endpoint's sessions (shown by iccp.endpoints). */
export interface SessionRecord {
  sessions: number;
  lastMessage: string | null;
  lastError: string | null;
}

export interface ComponentsOptions {
  maxFrameBytes: number;
  /** How long a new session may go without READY before it is dropped. */
  readyTimeoutMs: number;
  metrics: IccpMetrics;
}

/** Why the hub ended a session, as the failures metric labels it. */
type FailKind = 'bad-message' | 'protocol' | 'no-ready' | 'not-sent' | 'not-registered';

const ANSWERS = { OK: 'ok', ERROR: 'error', FINISHED: 'finished' } as const;
/** States of a run that sent READY and is not over: its session may come back without a new READY. */
const RUNNING: ReadonlySet<string> = new Set(['ready', 'configuring', 'configured', 'stopping', 'unresponsive']);

export class IccpComponents implements EndpointEvents {
  readonly #hub: HubContext;
  readonly #log: Logger;
  readonly #o: ComponentsOptions;
  readonly #sessions = new Map<string, IccpSession>();
  readonly #records = new Map<string, SessionRecord>();
  readonly #readyTimers = new Map<IccpSession, NodeJS.Timeout>();
  #stopping = false;

  constructor(hub: HubContext, log: Logger, options: ComponentsOptions) {
    this.#hub = hub;
    this.#log = log;
    this.#o = options;
  }

  record(name: string): SessionRecord {
    let r = this.#records.get(name);
    if (!r) this.#records.set(name, (r = { sessions: 0, lastMessage: null, lastError: null }));
    return r;
  }

  /** The ICCP member named `name`, if that name is one. */
  member(name: string): Member | undefined {
    const m = this.#hub.registry.find(name);
    return m && m.name === name && isIccpComponent(m) ? m : undefined;
  }

  /** The hub is stopping: sessions end without their components being marked gone (they come back after the restart). */
  stopping(): void {
    this.#stopping = true;
    for (const t of this.#readyTimers.values()) clearTimeout(t);
    this.#readyTimers.clear();
  }

  sessionStarted(endpoint: PairEndpoint, number: number): void {
    const session = new IccpSession(endpoint, number, (s, err) => this.#fail(s, `a command was not sent: ${err.message}`, 'not-sent'));
    this.#sessions.set(endpoint.name, session);
    this.#o.metrics.sessions.inc();
    this.record(endpoint.name).sessions++;
    const m = this.member(endpoint.name);
    // A component that sent READY before (a hub restart, a reconnect) speaks on without sending it again.
    if (m && m.lifecycle && m.lifecycle.state !== 'starting') {
      this.#hub.control.resume(m, session);
      void this.#hub.registry.resume(m, session).catch((err: unknown) => this.#log.warn({ err, name: m.name }, 'resume not persisted'));
      if (RUNNING.has(m.lifecycle.state)) return;
    }
    const timer = setTimeout(() => {
      this.#readyTimers.delete(session);
      if (session.open && !session.readySeen) this.#fail(session, `no READY within ${this.#o.readyTimeoutMs} ms`, 'no-ready');
    }, this.#o.readyTimeoutMs);
    timer.unref();
    this.#readyTimers.set(session, timer);
  }

  message(endpoint: PairEndpoint, number: number, frames: Buffer[]): void {
    const session = this.#sessions.get(endpoint.name);
    if (!session || session.number !== number || !session.open) return;
    const d = decode(frames, this.#o.maxFrameBytes);
    if (!d.ok) {
      session.last = d.type ? `${d.type} (unreadable)` : 'an unreadable message';
      this.#bad(session, d.reason);
      return;
    }
    const msg = d.message;
    session.last = describe(msg);
    this.record(endpoint.name).lastMessage = session.last;
    try {
      this.#handle(session, msg);
    } catch (err) {
      const e = toMusterError(err);
      if (e.code === 'INTERNAL') this.#log.error({ err, name: endpoint.name }, 'ICCP message failed');
      this.#fail(session, e.message, 'protocol');
    }
  }

  sessionEnded(endpoint: PairEndpoint, number: number, reason: string): void {
    const session = this.#sessions.get(endpoint.name);
    if (!session || session.number !== number) return;
    this.#sessions.delete(endpoint.name);
    const timer = this.#readyTimers.get(session);
    if (timer) clearTimeout(timer);
    this.#readyTimers.delete(session);
    if (this.#stopping) return;
    this.#log.debug({ name: endpoint.name, reason, last: session.last }, 'ICCP session ended');
    session.ended(session.last ? `${reason}; it sent ${session.last} last` : reason);
    this.#hub.registry.connectionClosed(session);
  }

  /** A component process exited; null when no member has that name yet. */
  exited(name: string, text: string): Member | null {
    const m = this.member(name);
    if (!m) {
      this.record(name).lastError = `its process exited before READY: ${text}`;
      return null;
    }
    this.#hub.control.exited(m, text);
    return m;
  }

  #handle(session: IccpSession, msg: IccpMessage): void {
    const member = this.#sessionMember(session);
    switch (msg.type) {
      case 'READY':
        this.#ready(session, member, msg.peer, msg.endpoints);
        return;
      case 'REQUEST': case 'STOP': {
        const kind = msg.type === 'REQUEST' ? 'configure' : 'stop';
        if (member) this.#hub.control.wrongWay(member, kind);
        this.#fail(session, `${msg.type === 'REQUEST' ? 'REQUEST/CONF' : 'STOP'} goes from the hub to a component, never back`, 'protocol');
        return;
      }
      default: {
        const answer: Answer = msg.type === 'ERROR' ? { type: 'error', text: msg.text }
          : msg.type === 'FINISHED' ? { type: 'finished', outcome: msg.outcome, details: msg.details } : { type: ANSWERS[msg.type] };
        if (member) {
          this.#hub.control.answer(member, answer);
          return;
        }
        const what = msg.type === 'ERROR' ? `it could not start: ${msg.text}` : `${msg.type} before READY`;
        this.#fail(session, what, 'protocol');
      }
    }
  }

  /** The member this session speaks for: bound to it by READY or by a resume. */
  #sessionMember(session: IccpSession): Member | undefined {
    const m = this.member(session.endpoint.name);
    return m && (m.connection === session || m.lifecycle?.state === 'starting') ? m : undefined;
  }

  #ready(session: IccpSession, existing: Member | undefined, peer: Peer, endpoints: Record<string, string[]>): void {
    const { registry, control } = this.#hub;
    const name = session.endpoint.name;
    if (session.readySeen && existing) {
      control.ready(existing, endpoints, session); // the table's "a second READY"
      return;
    }
    session.readySeen = true;
    this.#clearReadyTimer(session);
    const meta = { face: FACE_LABEL, endpoint: session.endpoint.url, uid: peer.uid, pid: String(peer.pid), host: peer.host };
    let m = this.member(name);
    if (m) {
      m.meta = meta;
      m.address = session.endpoint.url;
      if (m.lifecycle?.state !== 'starting') control.adopt(m, true);
      void registry.resume(m, session).catch((err: unknown) => this.#log.warn({ err, name }, 'resume not persisted'));
    } else {
      if (registry.find(name)) throw new Error(`the name ${name} is held by a member that is not an ICCP component`);
      registry.names.release(name);
      m = this.newMember(name, session.endpoint.url, meta);
      const added = m;
      void registry.add(m, session).catch((err: unknown) => {
        this.#log.warn({ err, name }, 'ICCP component not registered');
        this.#fail(session, `not registered: ${toMusterError(err).message}`, 'not-registered');
        void registry.remove(added, 'unregistered').catch(() => {});
      });
      control.adopt(m, false);
    }
    control.ready(m, endpoints, session);
    this.#log.debug({ name, uid: peer.uid, pid: peer.pid, host: peer.host }, 'ICCP component ready');
  }

  /** A member record for component `name` (starting; a token nobody holds: only the admin can remove it). */
  newMember(name: string, endpoint: string, meta: Record<string, string>): Member {
    const now = Date.now();
    return this.#hub.registry.createMember({
      id: randomUUID(), name, type: MEMBER_TYPE, address: endpoint, meta, liveness: { kind: 'session' },
      tokenHash: hashToken(newToken()), registeredAt: now, roles: ['component'],
      lifecycle: { state: 'starting', endpoints: {}, lastError: null, since: now },
    }, now);
  }

  /** Bad input: the member (if any) fails with the reason, then the session ends. */
  #bad(session: IccpSession, reason: string): void {
    const member = this.#sessionMember(session);
    try {
      if (member) this.#hub.control.badMessage(member, reason);
    } catch {
      // The table failed the member and recorded why.
    }
    this.#fail(session, `a bad message: ${reason}`, 'bad-message');
  }

  /** Records why the session failed, counts it, and binds the endpoint again. */
  #fail(session: IccpSession, reason: string, kind: FailKind): void {
    if (!session.open) return;
    const name = session.endpoint.name;
    this.record(name).lastError = reason;
    this.#o.metrics.failures.inc({ reason: kind });
    this.#hub.metrics.errors.inc({ face: FACE_LABEL, code: 'PROTOCOL_ERROR' });
    this.#log.warn({ name, reason }, 'ICCP session failed');
    this.#clearReadyTimer(session);
    session.close(reason);
  }

  #clearReadyTimer(session: IccpSession): void {
    const t = this.#readyTimers.get(session);
    if (t) clearTimeout(t);
    this.#readyTimers.delete(session);
  }
}

function describe(msg: IccpMessage): string {
  switch (msg.type) {
    case 'ERROR': return `ERROR (${lastLine(msg.text)})`;
    case 'FINISHED': return msg.details.length ? `FINISHED ${msg.outcome} (${lastLine(msg.details[msg.details.length - 1]!)})` : `FINISHED ${msg.outcome}`;
    default: return msg.type;
  }
}

function lastLine(s: string): string {
  const t = s.trimEnd();
  const line = t.slice(t.lastIndexOf('\n') + 1);
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
