/**
 * GET /v1/events: registry events as Server-Sent Events. `id:` is the revision, so a browser's
 * EventSource resumes by itself with Last-Event-ID. A client that falls behind by more than the
 * watch queue bound is cut off (it can resume from its last id).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Watcher } from '../core/event-log.js';
import { MusterError } from '../errors.js';
import { WatchFilter } from '../schemas/event.js';
import { validate } from '../schemas/validate.js';
import type { HubContext } from './context.js';

const KEEPALIVE_MS = 15_000;

export function watchFilterFromQuery(query: Record<string, unknown>): WatchFilter {
  const filter: Record<string, unknown> = {};
  const meta: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) {
    if (k === 'since') continue;
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

export async function serveEvents(hub: HubContext, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const filter = watchFilterFromQuery(req.query as Record<string, unknown>);
  const since = sinceFrom(req);
  const res = reply.raw;
  const pending: string[] = [];
  let started = false;
  const watcher: Watcher = {
    filter,
    deliver(e) {
      const chunk = `id: ${e.event.revision}\nevent: ${e.event.type}\ndata: ${e.json}\n\n`;
      if (!started) return void pending.push(chunk);
      if (res.writableLength > hub.limits.maxWatchQueueBytes) {
        hub.metrics.slowWatchers.inc();
        hub.registry.log.unwatch(watcher);
        res.end();
        return;
      }
      res.write(chunk);
    },
  };
  // Throws COMPACTED before anything is sent, so the client gets a JSON error with a status.
  const revision = hub.registry.log.watch(watcher, since);
  reply.hijack();
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-muster-revision': String(revision),
  });
  res.write(`: muster events from revision ${revision}\n\n`);
  started = true;
  for (const c of pending) res.write(c);
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  // A stopping hub tells the client why and ends the stream (EventSource reconnects by itself).
  const forget = hub.streams.add((reason) => {
    res.end(`event: close\ndata: ${JSON.stringify({ reason })}\n\n`);
  });
  const stop = () => {
    clearInterval(keepalive);
    hub.registry.log.unwatch(watcher);
    forget();
  };
  res.on('close', stop);
  res.on('error', stop);
}
