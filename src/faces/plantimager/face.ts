/**
 * The plantimager face's socket: a ZeroMQ ROUTER where the original binds a REP. REQ clients
 * cannot tell the two apart (ROUTER sees [identity, "", body] and answers with the same
 * envelope), but ROUTER lets several requests wait on the store at once instead of one
 * registration's fsync holding up every other client. A REQ client has one request open at a
 * time, and requests from one identity are answered in order anyway. Every request gets exactly
 * one reply, whatever it contains: an unanswered REQ socket is stuck for good.
 */
import type { Logger } from 'pino';
import * as zmq from 'zeromq';
import { toMusterError } from '../../errors.js';
import type { Face } from '../face.js';
import type { HubContext } from '../context.js';
import { AllowList, ZAP_DOMAIN, ZapHandler } from './allow-list.js';
import { ConnectionCount } from './connection-count.js';
import {
  decodeRequest, encodeAck, encodeError, encodeRegisterAck, encodeUnsupported, MAX_FRAME_BYTES, type Decoded, type PlantimagerRequest,
} from './codec.js';
import { PlantimagerDevices } from './devices.js';
import { parseEndpoint } from './endpoint.js';
import { ChurnMap } from '../../core/churn-map.js';

export interface PlantimagerFaceOptions {
  /** `[HOST:]PORT`; a bare port binds `defaultHost`. */
  listen: string;
  defaultHost: string;
  /** Client networks (CIDR) allowed to connect; absent or empty: everyone who can reach the port. */
  allow?: readonly string[];
  /** Requests handled at once; 1 behaves like the original's REP socket. */
  maxInFlight?: number;
  maxFrameBytes?: number;
  /** Connections taken at once; more are refused at the handshake (ZAP). */
  maxConnections?: number;
}

/** A peer must finish the ZeroMQ handshake within this, and answer heartbeats within HEARTBEAT_TIMEOUT_MS. */
const HANDSHAKE_MS = 10_000;
const HEARTBEAT_MS = 10_000;
const HEARTBEAT_TIMEOUT_MS = 30_000;

/** Frames past this are not read at all: libzmq drops the peer's connection. */
const HARD_CAP_BYTES = 1024 * 1024;
const STOP_WAIT_MS = 2000;
/** How long ZAP waits for a new connection's accept to be counted before it decides anyway. */
const ACCEPT_WAIT_MS = 200;

export class PlantimagerFace implements Face {
  readonly name = 'plantimager';
  readonly address: string;
  readonly #router: zmq.Router;
  readonly #zap: ZapHandler;
  readonly #devices: PlantimagerDevices;
  readonly #log: Logger;
  readonly #maxInFlight: number;
  readonly #maxFrameBytes: number;
  /** Per client identity: the tail of its chain of requests, so its replies leave in order (a ChurnMap: one set and delete per REGISTER). */
  readonly #tails = new ChurnMap<string, Promise<void>>();
  #inFlight = 0;
  #slotFreed: (() => void) | null = null;
  #sendTail: Promise<void> = Promise.resolve();
  readonly #served: Promise<void>;

  private constructor(router: zmq.Router, zap: ZapHandler, hub: HubContext, options: PlantimagerFaceOptions) {
    this.#router = router;
    this.#zap = zap;
    this.#log = hub.log.child({ face: 'plantimager' });
    this.#devices = new PlantimagerDevices(hub.registry);
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? 1024);
    this.#maxFrameBytes = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    this.address = router.lastEndpoint ?? options.listen;
    this.#served = this.#serve();
  }

  static async start(hub: HubContext, options: PlantimagerFaceOptions): Promise<PlantimagerFace> {
    const endpoint = parseEndpoint(options.listen, options.defaultHost);
    const allow = options.allow?.length ? new AllowList(options.allow) : null;
    const maxConnections = options.maxConnections ?? 10_000;
    const connections = new ConnectionCount();
    // Its own context: the ZAP endpoint is per context, and other faces may want theirs.
    const context = new zmq.Context();
    // Every new connection passes ZAP: the allow-list, then the connection cap.
    const zap = await ZapHandler.start(context, async (peer) => {
      await connections.asked(ACCEPT_WAIT_MS); // this connection counted among the open ones
      if (allow && !allow.allows(peer)) return 'address not allowed';
      return connections.open > maxConnections ? `more than ${maxConnections} connections` : null;
    }, hub.log);
    const maxFrame = options.maxFrameBytes ?? MAX_FRAME_BYTES;
    const router = new zmq.Router({
      context, linger: 0, ipv6: endpoint.ipv6, maxMessageSize: Math.max(HARD_CAP_BYTES, maxFrame * 4), zapDomain: ZAP_DOMAIN,
      handshakeInterval: HANDSHAKE_MS, heartbeatInterval: HEARTBEAT_MS, heartbeatTimeout: HEARTBEAT_TIMEOUT_MS,
      // A ROUTER send never waits (it drops for a gone or full peer): 0 lets zeromq.js skip its ZMQ_EVENTS check (system calls) before each reply.
      sendTimeout: 0,
    });
    void countConnections(router, connections);
    try {
      await router.bind(endpoint.url);
    } catch (err) {
      router.close();
      await zap.stop();
      throw new Error(`plantimager face cannot bind ${endpoint.url}: ${(err as Error).message}`, { cause: err });
    }
    const face = new PlantimagerFace(router, zap, hub, options);
    hub.log.info({ address: face.address, allow: allow?.entries ?? 'any' }, 'plantimager face listening');
    return face;
  }

  async stop(): Promise<void> {
    // The connection counter's observer holds the process open until it is closed itself.
    this.#router.events.close();
    this.#router.close();
    await this.#served;
    const deadline = Date.now() + STOP_WAIT_MS;
    while (this.#inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await this.#zap.stop();
  }

  async #serve(): Promise<void> {
    for (;;) {
      if (this.#inFlight >= this.#maxInFlight) await new Promise<void>((r) => { this.#slotFreed = r; });
      let frames: Buffer[];
      try {
        frames = await this.#router.receive();
      } catch (err) {
        if (this.#router.closed) return;
        this.#log.error({ err }, 'receive failed');
        continue;
      }
      this.#dispatch(frames);
    }
  }

  #dispatch(frames: Buffer[]): void {
    // [identity, routing frames..., "", body...]: REQ puts one empty delimiter before the body.
    const delimiter = frames.findIndex((f, i) => i > 0 && f.length === 0);
    const split = delimiter === -1 ? 1 : delimiter + 1;
    const envelope = frames.slice(0, split);
    const body = frames.slice(split);
    const key = frames[0]!.toString('latin1');
    this.#inFlight++;
    const previous = this.#tails.get(key);
    let done: Promise<void>;
    if (previous) {
      done = this.#chain(key, previous.then(() => this.#answer(decodeRequest(body, this.#maxFrameBytes))).then((r) => this.#send(envelope, r)));
    } else {
      // Fast path: most requests (alive checks, bad input) are answered without waiting on anything.
      const decoded = decodeRequest(body, this.#maxFrameBytes);
      const now = this.#answerNow(decoded);
      done = now ? this.#send(envelope, now) : this.#chain(key, this.#answer(decoded).then((r) => this.#send(envelope, r)));
    }
    void done.finally(() => {
      this.#inFlight--;
      const wake = this.#slotFreed;
      this.#slotFreed = null;
      wake?.();
    });
  }

  /** Remembers the last pending request of a client so that its next one waits for it. */
  #chain(key: string, run: Promise<void>): Promise<void> {
    const tracked = run.finally(() => {
      if (this.#tails.get(key) === tracked) this.#tails.delete(key);
    });
    this.#tails.set(key, tracked);
    return tracked;
  }

  /** One send at a time on a zeromq.js socket; ROUTER never blocks (it drops for a gone peer). */
  #send(envelope: Buffer[], reply: Buffer): Promise<void> {
    envelope.push(reply);
    this.#sendTail = this.#sendTail.then(() => this.#router.send(envelope)).catch((err: unknown) => {
      if (!this.#router.closed) this.#log.warn({ err }, 'reply not sent');
    });
    return this.#sendTail;
  }

  /** The reply when it needs no waiting (everything but REGISTER and UNREGISTER), else null. */
  #answerNow(decoded: Decoded): Buffer | null {
    if (!decoded.ok) {
      this.#log.debug({ code: decoded.code }, 'bad request');
      return decoded.reply;
    }
    const req = decoded.request;
    if (req.event === 'CHECK_ALIVE') return encodeAck('CHECK_ALIVE', this.#devices.checkAlive(req.uuid, req.aliveTimeoutS));
    if (req.event === 'UNSUPPORTED') return encodeUnsupported(req.reqEvent);
    return null;
  }

  async #answer(decoded: Decoded): Promise<Buffer> {
    if (!decoded.ok) return decoded.reply;
    const now = this.#answerNow(decoded);
    if (now) return now;
    const req = decoded.request;
    try {
      return await this.#handle(req);
    } catch (err) {
      const e = toMusterError(err);
      if (e.code === 'INTERNAL') this.#log.error({ err, event: req.event }, 'request failed');
      return encodeError(req.event === 'UNSUPPORTED' ? req.reqEvent : req.event, e.code, e.message);
    }
  }

  async #handle(req: PlantimagerRequest): Promise<Buffer> {
    switch (req.event) {
      case 'REGISTER': {
        const { id, name, uuid } = await this.#devices.register(req);
        // The uuid is the device's secret: logs name its public id.
        this.#log.debug({ id, name, addr: req.addr }, 'device registered');
        return encodeRegisterAck(name, uuid);
      }
      case 'UNREGISTER':
        return encodeAck('UNREGISTER', await this.#devices.unregister(req.uuid));
      case 'CHECK_ALIVE':
        return encodeAck('CHECK_ALIVE', this.#devices.checkAlive(req.uuid, req.aliveTimeoutS));
      case 'UNSUPPORTED':
        return encodeUnsupported(req.reqEvent);
    }
  }
}

/** Counts the connections the socket holds (accepted, not yet gone). */
async function countConnections(socket: zmq.Router, connections: ConnectionCount): Promise<void> {
  try {
    for await (const event of socket.events) {
      if (event.type === 'accept') connections.accepted();
      else if (event.type === 'disconnect') connections.gone();
    }
  } catch {
    // The observer ends with the socket.
  }
}
