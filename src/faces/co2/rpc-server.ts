/**
 * What the face answers over HTTP (http-server.ts): XML-RPC calls POSTed to /RPC2 or / (Python's
 * client posts to /RPC2 when the URL has no path), a plain-text page for GET, and a fault (with
 * HTTP 200, as XML-RPC requires) for everything else: another method, path or content type, a body
 * past the size limit, input that is not XML-RPC, an unknown method, wrong params, and what the
 * HTTP server refuses itself (malformed HTTP, headers too large, too slow). The connection stays
 * usable after a fault, except after the server's own refusals (answered, then closed).
 */
import type { Logger } from 'pino';
import { toMusterError, type ErrorCode } from '../../errors.js';
import { decodeCall, type DecodeLimits } from './decode.js';
import { encodeResponse } from './encode.js';
import { faultFor } from './faults.js';
import type { Answer, HttpHooks, RefusalCode, RequestHead } from './http-server.js';
import type { MethodDef } from './methods.js';
import type { XmlRpcValue } from './values.js';

export interface RpcServerDeps {
  readonly methods: ReadonlyMap<string, MethodDef>;
  readonly limits: DecodeLimits;
  readonly log: Logger;
  /** Counted per answered fault, by code. */
  readonly onFault: (code: ErrorCode) => void;
  readonly onRequest: () => void;
  /** The GET page's text. */
  readonly page: () => string;
}

const RPC_PATHS: ReadonlySet<string> = new Set(['/', '/RPC2']);
const XML_TYPE = /^\s*(text|application)\/xml\s*(;|$)/i;
const XML = 'text/xml';

export class RpcServer implements HttpHooks {
  readonly #deps: RpcServerDeps;
  /** The last answer encoded, by value: most calls of a run answer the same ('OK' to relay.relay). */
  #lastValue: XmlRpcValue | undefined;
  #lastAnswer: Answer | null = null;
  /** Heads (as the connections' head caches hand them out) that passed the checks below. */
  readonly #passed = new WeakSet<RequestHead['fields']>();

  constructor(deps: RpcServerDeps) {
    this.#deps = deps;
  }

  head(req: RequestHead): Answer | null {
    this.#deps.onRequest();
    if (this.#passed.has(req.fields)) return null; // the same head as an earlier call on its connection
    if (req.method === 'GET' || req.method === 'HEAD') return { contentType: 'text/plain; charset=utf-8', body: this.#deps.page() };
    if (req.method !== 'POST') return this.#fault('INVALID_REQUEST', `XML-RPC calls are POSTed, not sent with ${req.method.slice(0, 16)}`);
    const q = req.target.indexOf('?');
    if (!RPC_PATHS.has(q < 0 ? req.target : req.target.slice(0, q))) return this.#fault('INVALID_REQUEST', 'POST XML-RPC calls to /RPC2 or /');
    const type = req.fields.contentType;
    if (type !== undefined && !XML_TYPE.test(type)) return this.#fault('INVALID_REQUEST', `Content-Type must be text/xml, not ${JSON.stringify(type.slice(0, 60))}`);
    const encoding = req.fields.contentEncoding;
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return this.#fault('INVALID_REQUEST', 'Content-Encoding is not supported');
    this.#passed.add(req.fields);
    return null;
  }

  request(req: RequestHead, body: Buffer, reply: (answer: Answer) => void): void {
    const decoded = decodeCall(body, req.fields.contentType, this.#deps.limits);
    if (!decoded.ok) return reply(this.#fault(decoded.code, decoded.message));
    const { method, params } = decoded.call;
    const def = this.#deps.methods.get(method);
    if (!def) return reply(this.#fault('METHOD_NOT_FOUND', `No method ${JSON.stringify(method.slice(0, 80))}`));
    let result: XmlRpcValue | Promise<XmlRpcValue>;
    try {
      result = def.run(params, req);
    } catch (err) {
      return reply(this.#failed(err, method));
    }
    if (!(result instanceof Promise)) return reply(this.#answer(result));
    result.then((value) => reply(this.#answer(value)), (err: unknown) => reply(this.#failed(err, method)));
  }

  refusal(code: RefusalCode, message: string): Answer {
    return this.#fault(code, message);
  }

  #answer(value: XmlRpcValue): Answer {
    if (typeof value === 'string' && value === this.#lastValue) return this.#lastAnswer!;
    let answer: Answer;
    try {
      answer = { contentType: XML, body: encodeResponse(value) };
    } catch (err) {
      return this.#failed(err, 'encode');
    }
    if (typeof value === 'string' && value.length < 256) {
      this.#lastValue = value;
      this.#lastAnswer = answer;
    }
    return answer;
  }

  #failed(err: unknown, method: string): Answer {
    const e = toMusterError(err);
    if (e.code === 'INTERNAL') this.#deps.log.error({ err, method }, 'call failed');
    return this.#fault(e.code, e.message);
  }

  #fault(code: ErrorCode, message: string): Answer {
    this.#deps.onFault(code);
    return { contentType: XML, body: faultFor(code, message) };
  }
}
