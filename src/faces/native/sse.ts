/**
 * GET /v1/events: registry events as Server-Sent Events. `id:` is the revision, so a browser's
 * EventSource resumes by itself with Last-Event-ID. The stream is a Connection of its own (face
 * 'sse') holding one watch: a client that falls behind by more than the watch queue bound is cut
 * off (it resumes from its last id), and a stopping hub ends it with `event: close`.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BusPayload } from '../../core/bus/message.js';
import type { Backlog, Connection, Outbound } from '../../core/ports.js';
import { MusterError } from '../../errors.js';
import { WatchFilter } from '../../schemas/event.js';
import { validate } from '../../schemas/validate.js';
import type { HubContext } from '../context.js';

const KEEPALIVE_MS = 15_000;

export function watchFilterFromQuery(query: Record<string, unknown>): WatchFilter {
  const filter: Record<string, unknown> = {};
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) {
    if (k === 'since' || k === 'epoch') continue;
    if (Array.isArray(v)) throw new MusterError('INVALID_PARAMS', `query.${k}: given more than once`);
    if (k.startsWith('meta.')) meta[k.slice(5)] = v;
    else if (k === 'types') filter.types = String(v).split(',');
    else filter[k] = v;
  }
  if (Object.keys(meta).length) filter.meta = meta;
  return validate(WatchFilter, filter, 'query');
}

function sinceFrom(req: FastifyRequest): number | undefined {
  const raw = (req.query as Record<string, unknown>).since ?? req.headers['last-event-id'];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw)) throw new MusterError('INVALID_PARAMS', 'since: must be a revision number');
  return Number(raw);
}

/** One SSE response as a connection that takes watch events. */
class SseStream implements Connection {
  readonly id = randomUUID();
  readonly face = 'sse';
  readonly #res: ServerResponse;
  readonly #maxQueued: number;
  /** Replayed events, held until the response has started. */
  #pending: string[] | null = [];
  #listeners: ((reason: string) => void)[] = [];
  #reason = 'client closed the stream';

  constructor(res: ServerResponse, maxQueued: number) {
    this.#res = res;
    this.#maxQueued = maxQueued;
  }

  get open(): boolean {
    return !this.#res.writableEnded && !this.#res.destroyed;
  }

  get backlog(): Backlog {
    return { messages: this.#pending?.length ?? 0, bytes: this.#res.writableLength };
  }

  deliver(out: Outbound): boolean {
    if (!this.open) return false;
    if (out.type === 'watch-dropped') {
      this.close('fell behind');
      return true;
    }
    if (out.type !== 'event') return false;
    const chunk = `id: ${out.event.revision}\nevent: ${out.event.type}\ndata: ${out.event.json}\n\n`;
    if (this.#pending) {
      this.#pending.push(chunk);
      return true;
    }
    if (this.#res.writableLength > this.#maxQueued) return false;
    this.#res.write(chunk);
    return true;
  }

  request(): Promise<BusPayload> {
    return Promise.reject(new MusterError('NOT_CONNECTED', 'An event stream takes no requests'));
  }

  /** Sends the headers and what was replayed; live events are written as they come. */
  start(revision: number): void {
    this.#res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-muster-revision': String(revision),
    });
    this.#res.write(`: muster events from revision ${revision}\n\n`);
    for (const c of this.#pending ?? []) this.#res.write(c);
    this.#pending = null;
  }

  keepalive(): void {
    if (this.open) this.#res.write(': keepalive\n\n');
  }

  /** Ends the stream telling the client why (a stopping hub), or plainly (a slow client). */
  close(reason: string): void {
    if (!this.open) return;
    this.#reason = reason;
    if (reason === 'fell behind') this.#res.end();
    else this.#res.end(`event: close\ndata: ${JSON.stringify({ reason })}\n\n`);
  }

  onClose(listener: (reason: string) => void): void {
    this.#listeners.push(listener);
  }

  closed(): void {
    const listeners = this.#listeners;
    this.#listeners = [];
    for (const l of listeners) l(this.#reason);
  }
}

export async function serveEvents(hub: HubContext, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (hub.drain.active) throw new MusterError('DRAINING', 'This hub is draining and opens no new streams: connect to another hub');
  const filter = watchFilterFromQuery(req.query as Record<string, unknown>);
  const since = sinceFrom(req);
  const res = reply.raw;
  const stream = new SseStream(res, hub.limits.maxWatchQueueBytes);
  // Throws COMPACTED before anything is sent, so the client gets a JSON error with a status.
  const epoch = (req.query as Record<string, unknown>).epoch;
  const { revision } = hub.watches.open(stream, filter, since, typeof epoch === 'string' ? epoch : undefined);
  reply.hijack();
  stream.start(revision);
  const keepalive = setInterval(() => stream.keepalive(), KEEPALIVE_MS);
  keepalive.unref();
  const forget = hub.streams.add((reason) => stream.close(reason));
  let done = false;
  const stop = () => {
    if (done) return;
    done = true;
    clearInterval(keepalive);
    forget();
    stream.closed();
  };
  res.on('close', stop);
  res.on('error', stop);
}
