/**
 * Is an answer well-formed, and is its error code in the catalogue? One checker per wire format:
 * JSON-RPC text frames and bus binary frames from the hub, HTTP error bodies, plantimager replies.
 * Checkers collect what they saw into a Report rather than throwing, so one case can show several.
 * A problem reads "what — excerpt": the part before the dash names the fault.
 */
import { ERRORS, isErrorCode } from '../../src/errors.js';
import { decodeHubFrame, KIND_ERROR } from '../../src/faces/native/bus-binary.js';

export interface HubRequest {
  readonly binary: boolean;
  /** JSON: the "hN" id; binary: the hub's f64 id. */
  readonly id: string | number;
  readonly method: string;
  /** For binary handles, the member asked (the answer's header needs it). */
  readonly where?: string;
}

export class Report {
  readonly codes: string[] = [];
  /** Codes that are not in src/errors.ts. */
  readonly uncatalogued: string[] = [];
  readonly problems: string[] = [];
  /** Ids the hub answered (JSON-RPC responses and binary reply/error records). */
  readonly answered = new Set<string | number>();
  /** Error answers with id null sent on their own: the whole frame was refused (not JSON, too large, too deep). */
  wholeFrameRefusals = 0;
  readonly hubRequests: HubRequest[] = [];

  code(c: unknown, where: string): void {
    if (isErrorCode(c)) this.codes.push(c);
    else {
      this.uncatalogued.push(String(c));
      this.problems.push(`${where}: code ${JSON.stringify(c)} is not in the catalogue`);
    }
  }
}

/** Notifications the hub sends on /v1/ws; anything else is reported, so a new one is added here on purpose. */
const NOTIFICATIONS = new Set(['event', 'watch.dropped', 'bus.message', 'bus.throttled', 'bus.error', 'lifecycle.configure', 'lifecycle.stop', 'hub.interest', 'hub.publish']);
const HUB_REQUESTS = new Set(['bus.handle', 'hub.ping', 'hub.forward']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A text frame from the hub: one JSON-RPC message or an array of them. */
export function checkTextFrame(text: string, r: Report): void {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    r.problems.push(`text frame is not JSON — ${JSON.stringify(text.slice(0, 160))}`);
    return;
  }
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) r.problems.push('empty array frame');
  for (const m of list) checkMessage(m, r);
  if (!Array.isArray(value) && isObj(value) && value.id === null && 'error' in value) r.wholeFrameRefusals++;
}

function checkMessage(m: unknown, r: Report): void {
  if (!isObj(m)) return void r.problems.push(`message is not an object — ${JSON.stringify(m)?.slice(0, 80)}`);
  if (m.jsonrpc !== '2.0') r.problems.push('message without jsonrpc "2.0"');
  if ('method' in m) {
    const method = m.method;
    if (typeof method !== 'string') return void r.problems.push('method is not a string');
    if ('id' in m) {
      if (!HUB_REQUESTS.has(method)) r.problems.push(`unknown hub request ${method}`);
      if (typeof m.id !== 'string' || !/^h\d+$/.test(m.id)) r.problems.push(`hub request id ${JSON.stringify(m.id)}`);
      else r.hubRequests.push({ binary: false, id: m.id, method });
      return;
    }
    if (!NOTIFICATIONS.has(method)) return void r.problems.push(`unknown notification ${method}`);
    const p = m.params;
    if (!isObj(p)) return void r.problems.push(`${method} without params object`);
    if (method === 'bus.error') {
      r.code(p.code, 'bus.error');
      if (typeof p.message !== 'string') r.problems.push('bus.error without message');
    } else if (method === 'watch.dropped' && p.code !== 'SLOW_CONSUMER') r.problems.push(`watch.dropped code ${JSON.stringify(p.code)}`);
    return;
  }
  if (!('id' in m)) return void r.problems.push('response without id');
  const id = m.id;
  if (id !== null && typeof id !== 'string' && typeof id !== 'number') r.problems.push(`response id ${JSON.stringify(id)}`);
  else if (id !== null) r.answered.add(id);
  const hasResult = 'result' in m;
  const hasError = 'error' in m;
  if (hasResult === hasError) return void r.problems.push('response needs exactly one of result and error');
  if (hasResult) return void r.codes.push('ok');
  const e = m.error;
  if (!isObj(e)) return void r.problems.push('error is not an object');
  if (typeof e.message !== 'string') r.problems.push('error.message is not a string');
  const data = e.data;
  if (!isObj(data)) return void r.problems.push(`error without data.code (rpc code ${JSON.stringify(e.code)})`);
  r.code(data.code, 'error.data.code');
  if (isErrorCode(data.code) && e.code !== ERRORS[data.code].rpc) r.problems.push(`error.code ${JSON.stringify(e.code)} is not ${ERRORS[data.code].rpc} for ${data.code}`);
}

/** A binary frame from the hub: delivery, handle, reply and error records. */
export function checkBinaryFrame(frame: Uint8Array, r: Report): void {
  try {
    decodeHubFrame(frame, {
      handle: (h) => r.hubRequests.push({ binary: true, id: h.id, method: h.method, where: h.where }),
      answer: (a) => {
        r.answered.add(a.id);
        if (a.kind !== KIND_ERROR) return void r.codes.push('ok');
        r.code(a.where, 'error record');
        try {
          const body = JSON.parse(Buffer.from(a.payload).toString('utf8')) as unknown;
          if (!isObj(body) || body.code !== a.where || typeof body.message !== 'string') r.problems.push('error record payload is not {code, message} matching its code');
        } catch {
          r.problems.push('error record payload is not JSON');
        }
      },
    });
  } catch (err) {
    r.problems.push(`binary frame from the hub does not decode: ${(err as Error).message}`);
  }
}

/** An HTTP answer: 2xx, or a JSON {error: {code, message}} whose status is the catalogue's. */
export function checkHttpAnswer(status: number, contentType: string, body: string, r: Report): void {
  if (status >= 200 && status < 300) return void r.codes.push('ok');
  if (status === 304) return void r.codes.push('ok');
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    r.problems.push(`HTTP ${status} with a body that is not JSON — (${contentType}) ${JSON.stringify(body.slice(0, 160))}`);
    return;
  }
  const e = isObj(value) ? value.error : undefined;
  if (!isObj(e)) return void r.problems.push(`HTTP ${status} body is not {error: ...} — ${body.slice(0, 160)}`);
  r.code(e.code, `HTTP ${status}`);
  if (typeof e.message !== 'string') r.problems.push('HTTP error without message');
  if (isErrorCode(e.code) && ERRORS[e.code].status !== status) r.problems.push(`HTTP ${status} for ${e.code} (catalogue says ${ERRORS[e.code].status})`);
}

const PLANTIMAGER_EVENTS = new Set(['REGISTER_ACK', 'ACK', 'UNSUPPORTED', 'ERROR']);

/** A plantimager reply: one JSON frame {event, payload}; ERROR carries a catalogued code. */
export function checkPlantimagerReply(frame: Buffer, r: Report): void {
  let value: unknown;
  try {
    value = JSON.parse(frame.toString('utf8'));
  } catch {
    return void r.problems.push('plantimager reply is not JSON');
  }
  if (!isObj(value) || typeof value.event !== 'string' || !isObj(value.payload)) return void r.problems.push('plantimager reply is not {event, payload}');
  if (!PLANTIMAGER_EVENTS.has(value.event)) return void r.problems.push(`plantimager reply event ${value.event}`);
  if (value.event !== 'ERROR') return void r.codes.push(value.event === 'ACK' ? `ACK:${String(value.payload.success)}` : value.event);
  r.code(value.payload.error, 'plantimager ERROR');
  if (typeof value.payload.message !== 'string') r.problems.push('plantimager ERROR without message');
}
