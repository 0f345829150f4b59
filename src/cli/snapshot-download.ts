/**
 * Downloads a hub's snapshot (GET /v1/admin/snapshot) into a file: the bytes go to a temporary
 * file beside it, streamed; a hub that answers with an error gives its code. Bounded: the answer
 * must start within `answerMs` and no more than `idleMs` may pass between two chunks.
 */
import { createWriteStream } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MusterClientError } from '../client/index.js';
import type { HubTarget } from './hub-api.js';

export interface DownloadLimits {
  answerMs: number;
  idleMs: number;
}

async function errorOf(res: IncomingMessage, hub: HubTarget): Promise<MusterClientError> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res as AsyncIterable<Buffer>) {
    if ((size += c.length) > 65_536) break;
    chunks.push(c);
  }
  try {
    const e = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> } }).error;
    if (typeof e?.code === 'string') return new MusterClientError(e.code, typeof e.message === 'string' ? e.message : `HTTP ${res.statusCode}`, e.details);
  } catch { /* not muster JSON */ }
  return new MusterClientError('HUB_UNREACHABLE', `${hub.url} answered ${res.statusCode} with something that is not muster JSON`, { url: hub.url });
}

/** Resolves with the bytes written to `path` once the hub has sent the whole answer. */
export function downloadSnapshot(hub: HubTarget, path: string, limits: DownloadLimits): Promise<number> {
  const url = `${hub.url}/v1/admin/snapshot`;
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  const headers: Record<string, string> = { accept: 'application/gzip, application/json' };
  if (hub.token) headers.authorization = `Bearer ${hub.token}`;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => { if (!settled) { settled = true; clearTimeout(answer); req.destroy(); reject(err); } };
    const unreachable = (why: string) => fail(new MusterClientError('HUB_UNREACHABLE', `Cannot get a snapshot from ${hub.url} (${why})`, { url: hub.url }));
    const req = send(url, { method: 'GET', headers }, (res) => {
      clearTimeout(answer);
      if (res.statusCode !== 200) {
        void errorOf(res, hub).then(fail, (err: Error) => unreachable(err.message));
        return;
      }
      const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
      let bytes = 0;
      res.on('data', (c: Buffer) => { bytes += c.length; });
      res.setTimeout(limits.idleMs, () => unreachable(`nothing received for ${limits.idleMs} ms`));
      res.on('aborted', () => unreachable('the hub closed the connection before the end'));
      res.on('error', (err) => unreachable(err.message));
      out.on('error', (err) => fail(new MusterClientError('INVALID_PARAMS', `Cannot write ${path}: ${err.message}`)));
      out.on('finish', () => { if (!settled && res.complete) { settled = true; resolve(bytes); } else unreachable('the answer ended before its end'); });
      res.pipe(out);
    });
    const answer = setTimeout(() => unreachable(`no answer within ${limits.answerMs} ms`), limits.answerMs);
    req.on('error', (err: NodeJS.ErrnoException) => unreachable(err.code ?? err.message));
    req.end();
  });
}
