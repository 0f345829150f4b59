/**
 * A TCP proxy on 127.0.0.1 for link races: it sits between a client (a child hub) and a server
 * (its registrar) and can delay the server's answers (the bytes after its HTTP handshake reply, so
 * a WebSocket opens at once and its calls are answered late), or hold either direction from the
 * moment the client makes its first call after the handshake, until the test releases them.
 * Bytes keep their order in both directions; a held or delayed close waits behind the bytes before it.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** One direction of one proxied connection: an ordered queue of chunks (null = end of stream). */
class Pipe {
  readonly #to: Socket;
  readonly #queue: { chunk: Buffer | null; at: number }[] = [];
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  held = false;

  constructor(to: Socket) {
    this.#to = to;
  }

  push(chunk: Buffer | null, delayMs: number): void {
    if (this.#stopped) return;
    this.#queue.push({ chunk, at: Date.now() + delayMs });
    this.pump();
  }

  pump(): void {
    if (this.#timer || this.held) return;
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      const wait = next.at - Date.now();
      if (wait > 0) {
        this.#timer = setTimeout(() => { this.#timer = null; this.pump(); }, wait);
        return;
      }
      this.#queue.shift();
      if (next.chunk === null) this.#to.end();
      else this.#to.write(next.chunk);
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue.length = 0;
  }
}

/** Splits a byte stream at the end of its HTTP head (the handshake): [head bytes, bytes after]. */
class HeadSplitter {
  #seen = '';
  #done = false;

  split(chunk: Buffer): [Buffer, Buffer] {
    if (this.#done) return [chunk.subarray(0, 0), chunk];
    this.#seen += chunk.toString('latin1');
    const end = this.#seen.indexOf('\r\n\r\n');
    if (end < 0) return [chunk, chunk.subarray(chunk.length)];
    this.#done = true;
    const after = this.#seen.length - (end + 4);
    return [chunk.subarray(0, chunk.length - after), chunk.subarray(chunk.length - after)];
  }
}

interface Pair {
  client: Socket;
  server: Socket;
  up: Pipe;
  down: Pipe;
  upHead: HeadSplitter;
  downHead: HeadSplitter;
}

/** What to hold once the client's first call after the handshake goes through. */
export type Hold = 'nothing' | 'replies' | 'requests';

interface Armed {
  hold: Hold;
  resolve: () => void;
}

export class TcpProxy {
  /** Every chunk the server sends after its handshake reply reaches the client this much later (order kept). */
  replyDelayMs = 0;
  readonly #server: Server;
  readonly #targetPort: number;
  readonly #pairs = new Set<Pair>();
  #armed: Armed | null = null;
  /** What clients sent after their handshakes, in the order it came. */
  readonly #sent: Buffer[] = [];

  private constructor(server: Server, targetPort: number) {
    this.#server = server;
    this.#targetPort = targetPort;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, targetPort);
    server.on('connection', (client) => proxy.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Resolves when a client next sends bytes after its HTTP handshake (on a WebSocket: its first
   * call). From that very chunk on (synchronously, so no reply slips through) that connection
   * holds `hold` until release().
   */
  nextCall(hold: Hold = 'nothing'): Promise<void> {
    return new Promise((resolve) => { this.#armed = { hold, resolve }; });
  }

  /** The bytes clients sent after their HTTP handshakes so far (on a WebSocket: its frames). */
  sent(): Buffer {
    return Buffer.concat(this.#sent);
  }

  /** Lets every held byte go, in order, and holds nothing more. */
  release(): void {
    for (const p of this.#pairs) {
      p.up.held = false;
      p.down.held = false;
      p.up.pump();
      p.down.pump();
    }
  }

  /** Drops every connection through the proxy at once, as a broken network would. */
  cut(): void {
    for (const p of [...this.#pairs]) this.#end(p);
  }

  async close(): Promise<void> {
    this.#armed = null;
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    const server = connect(this.#targetPort, '127.0.0.1');
    const pair: Pair = { client, server, up: new Pipe(server), down: new Pipe(client), upHead: new HeadSplitter(), downHead: new HeadSplitter() };
    this.#pairs.add(pair);
    client.setNoDelay(true);
    server.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.#fromClient(pair, chunk));
    server.on('data', (chunk: Buffer) => {
      const [head, answers] = pair.downHead.split(chunk);
      if (head.length > 0) pair.down.push(head, 0);
      if (answers.length > 0) pair.down.push(answers, this.replyDelayMs);
    });
    // The server's end reaches the client behind the bytes still delayed or held.
    let serverDone = false;
    const serverEnded = () => {
      if (!serverDone) pair.down.push(null, this.replyDelayMs);
      serverDone = true;
    };
    server.on('end', serverEnded);
    server.on('close', serverEnded);
    client.on('end', () => pair.up.push(null, 0));
    // Errors (the target not listening, a reset) end both sides at once: the client sees a dropped link.
    server.on('error', () => this.#end(pair));
    client.on('error', () => this.#end(pair));
    client.on('close', () => this.#end(pair));
  }

  #fromClient(pair: Pair, chunk: Buffer): void {
    const [head, calls] = pair.upHead.split(chunk);
    if (head.length > 0) pair.up.push(head, 0);
    if (calls.length > 0) this.#call(pair, calls);
  }

  /** Bytes after the handshake: the first ones may set off the armed hold. */
  #call(pair: Pair, chunk: Buffer): void {
    this.#sent.push(chunk);
    const armed = this.#armed;
    if (armed) {
      this.#armed = null;
      if (armed.hold === 'replies') pair.down.held = true;
      if (armed.hold === 'requests') pair.up.held = true;
      armed.resolve();
    }
    pair.up.push(chunk, 0);
  }

  #end(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return;
    pair.up.stop();
    pair.down.stop();
    pair.client.destroy();
    pair.server.destroy();
  }
}
