/**
 * The hub's side of calls to satellites: one XML-RPC POST over HTTP/1.1 (keep-alive through the
 * given agent, or a fresh connection), with a deadline on the whole exchange and a cap on the
 * answer. Resolves with the decoded response; rejects with Error on anything that is not one.
 */
import { Agent, request } from 'node:http';
import { decodeResponse } from './decode.js';
import type { XmlRpcValue } from './values.js';

/** Answers past this are not read (ping, notify and bus answers are small). */
const MAX_ANSWER_BYTES = 1024 * 1024;

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly path: string;
}

/** A satellite's answer: a value or its fault. */
export type XmlRpcAnswer =
  | { readonly ok: true; readonly value: XmlRpcValue }
  | { readonly ok: false; readonly fault: { readonly code: number; readonly message: string } };

export class CallFailed extends Error {
  constructor(readonly reason: 'timeout' | 'http' | 'network' | 'malformed', message: string) {
    super(message);
  }
}

/** Parses `xmlrpc://host:port/path` (or http://) into where to POST. */
export function endpointOf(target: string): Endpoint {
  const url = new URL(target);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 80), path: url.pathname || '/RPC2' };
}

export function postXmlRpc(to: Endpoint, body: string, timeoutMs: number, agent: Agent | false): Promise<XmlRpcAnswer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: CallFailed) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const req = request({
      host: to.host, port: to.port, path: to.path, method: 'POST', agent,
      headers: { 'Content-Type': 'text/xml', 'Content-Length': Buffer.byteLength(body), 'User-Agent': 'muster-co2' },
    });
    const timer = setTimeout(() => fail(new CallFailed('timeout', `no answer within ${timeoutMs} ms`)), timeoutMs);
    req.once('error', (err) => fail(new CallFailed('network', err.message)));
    req.once('response', (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        fail(new CallFailed('http', `HTTP ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) fail(new CallFailed('malformed', `answer over ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(c);
      });
      res.once('error', (err) => fail(new CallFailed('network', err.message)));
      res.once('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const decoded = decodeResponse(Buffer.concat(chunks), res.headers['content-type']);
        if (decoded.ok) resolve(decoded);
        else if (decoded.fault) resolve({ ok: false, fault: decoded.fault });
        else reject(new CallFailed('malformed', decoded.message));
      });
    });
    req.end(body);
  });
}
