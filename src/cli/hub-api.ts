/**
 * The CLI's view of a hub over HTTP: one-shot requests with the hub's error codes kept, and a
 * clear HUB_UNREACHABLE when nothing answers. (Watching uses the SDK over WebSocket.)
 */
import { MusterClientError } from '../client/index.js';
import { httpRequestText, type HttpAnswer } from './http-request.js';

export const DEFAULT_HUB = 'http://127.0.0.1:7070';

export interface HubTarget {
  /** Base HTTP URL, no trailing slash. */
  url: string;
  token: string | undefined;
}

/** `--hub` (or MUSTER_HUB) as an HTTP base URL; ws URLs are accepted too. */
export function hubTarget(flags: { hub?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): HubTarget {
  const raw = flags.hub ?? (env.MUSTER_HUB || DEFAULT_HUB);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new MusterClientError('INVALID_PARAMS', `--hub takes a URL like ${DEFAULT_HUB}, not ${JSON.stringify(raw)}`);
  }
  if (u.protocol === 'ws:') u.protocol = 'http:';
  else if (u.protocol === 'wss:') u.protocol = 'https:';
  else if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new MusterClientError('INVALID_PARAMS', `--hub takes an http(s):// URL, not ${raw}`);
  return { url: `${u.protocol}//${u.host}`, token: flags.token ?? (env.MUSTER_TOKEN || undefined) };
}

export async function request<T>(hub: HubTarget, method: string, path: string, body?: unknown, token = hub.token): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  let res: HttpAnswer;
  try {
    res = await httpRequestText(hub.url + path, method, headers, body === undefined ? undefined : JSON.stringify(body), 15_000);
  } catch (err) {
    const why = (err as { code?: string }).code ?? (err as Error).message;
    throw new MusterClientError('HUB_UNREACHABLE', `Cannot reach the hub at ${hub.url} (${why})`, { url: hub.url });
  }
  const text = res.text;
  let value: unknown;
  try {
    value = text ? JSON.parse(text) : undefined;
  } catch {
    throw new MusterClientError('HUB_UNREACHABLE', `${hub.url} answered ${res.status} with something that is not muster JSON`, { url: hub.url });
  }
  if (res.status < 200 || res.status > 299) {
    const e = (value as { error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> } } | undefined)?.error;
    throw new MusterClientError(typeof e?.code === 'string' ? e.code : 'INTERNAL', typeof e?.message === 'string' ? e.message : `HTTP ${res.status}`, e?.details);
  }
  return value as T;
}
