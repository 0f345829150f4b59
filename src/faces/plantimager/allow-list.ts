/**
 * Client networks allowed on the plantimager face, enforced with ZeroMQ's ZAP (RFC 27): libzmq
 * asks the handler bound at inproc://zeromq.zap.01 (in the face's own context) about every new
 * connection, with the peer's IP; a refused peer's handshake fails and none of its messages
 * reach the face.
 */
import { BlockList, isIP } from 'node:net';
import type { Logger } from 'pino';
import * as zmq from 'zeromq';

export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
export const ZAP_DOMAIN = 'muster-plantimager';

export class AllowList {
  readonly #list = new BlockList();
  readonly entries: readonly string[];

  /** Parses `a.b.c.d/n`, `a:b::/n` or a bare address; throws naming the bad entry. */
  constructor(cidrs: readonly string[]) {
    for (const entry of cidrs) {
      const [addr = '', prefixText, extra] = entry.trim().split('/');
      const family = isIP(addr);
      const max = family === 4 ? 32 : 128;
      const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
      if (family === 0 || extra !== undefined || !(prefix >= 0 && prefix <= max)) {
        throw new Error(`plantimagerAllow: ${JSON.stringify(entry)} is not an IPv4 or IPv6 network (like 10.0.0.0/8 or fd00::/8)`);
      }
      this.#list.addSubnet(addr, prefix, family === 4 ? 'ipv4' : 'ipv6');
    }
    this.entries = [...cidrs];
  }

  allows(address: string): boolean {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped) return this.#list.check(mapped[1]!, 'ipv4');
    const family = isIP(address);
    if (family === 0) return false;
    return this.#list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** Says why a new connection from `peer` (its IP) is refused, or null to take it. */
export type Admission = (peer: string) => string | null | Promise<string | null>;

/** Answers ZAP requests until the socket closes: 200 for admitted peers, 400 with the reason for the rest. */
export class ZapHandler {
  readonly #socket: zmq.Reply;
  readonly #done: Promise<void>;

  private constructor(socket: zmq.Reply, admit: Admission, log: Logger) {
    this.#socket = socket;
    this.#done = this.#serve(admit, log);
  }

  static async start(context: zmq.Context, admit: Admission, log: Logger): Promise<ZapHandler> {
    const socket = new zmq.Reply({ context, linger: 0 });
    await socket.bind(ZAP_ENDPOINT);
    return new ZapHandler(socket, admit, log);
  }

  async #serve(admit: Admission, log: Logger): Promise<void> {
    try {
      for await (const frames of this.#socket) {
        // [version, request id, domain, address, identity, mechanism, credentials...]
        const [version = Buffer.from('1.0'), requestId = Buffer.alloc(0), , address = Buffer.alloc(0)] = frames;
        const peer = address.toString();
        const refused = await admit(peer);
        if (refused) log.warn({ peer, face: 'plantimager', reason: refused }, 'refused a client');
        await this.#socket.send([version, requestId, refused ? '400' : '200', refused ?? 'OK', '', '']);
      }
    } catch (err) {
      if (!this.#socket.closed) log.error({ err }, 'plantimager ZAP handler failed');
    }
  }

  async stop(): Promise<void> {
    this.#socket.close();
    await this.#done;
  }
}
