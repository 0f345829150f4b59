/**
 * JSON-RPC 2.0 codec: text in, typed messages out; no sockets. Errors carry the numeric
 * JSON-RPC code and, in `data.code`, muster's stable string code.
 */
import { ERRORS, MusterError } from '../../errors.js';
import { jsonTooDeep, MAX_JSON_DEPTH, topLevelFields } from '../../schemas/json-depth.js';

export const PROTOCOL_VERSION = '2.0';

export type RpcId = string | number | null;

export type RpcMessage =
  | { kind: 'request'; id: string | number; method: string; params: unknown }
  | { kind: 'notification'; method: string; params: unknown }
  | { kind: 'response'; id: RpcId; result?: unknown; error?: unknown }
  | { kind: 'invalid'; id: RpcId; error: MusterError };

/** Parses one frame: a single message or a batch. A parse failure is one invalid message. */
export function decode(text: string): { batch: boolean; messages: RpcMessage[] } {
  if (jsonTooDeep(text)) return { batch: false, messages: [tooDeep(text)] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { batch: false, messages: [{ kind: 'invalid', id: null, error: new MusterError('PARSE_ERROR', `Not valid JSON: ${(err as Error).message}`) }] };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return { batch: false, messages: [{ kind: 'invalid', id: null, error: new MusterError('INVALID_REQUEST', 'An empty batch') }] };
    if (value.length > 100) return { batch: false, messages: [{ kind: 'invalid', id: null, error: new MusterError('INVALID_REQUEST', 'A batch holds at most 100 messages') }] };
    return { batch: true, messages: value.map(classify) };
  }
  return { batch: false, messages: [classify(value)] };
}

/**
 * A frame nested past MAX_JSON_DEPTH, never parsed: a request is refused under its id; an answer
 * to one of the hub's requests settles it as the peer's error, so the asker hears at once.
 */
function tooDeep(text: string): RpcMessage {
  const { id, hasMethod } = topLevelFields(text);
  const message = `JSON nested deeper than ${MAX_JSON_DEPTH} levels`;
  if (!hasMethod && typeof id === 'string') return { kind: 'response', id, error: { code: ERRORS.INVALID_PARAMS.rpc, message: `The answer is ${message}` } };
  return { kind: 'invalid', id, error: new MusterError('INVALID_PARAMS', message, { maxDepth: MAX_JSON_DEPTH }) };
}

export function classify(v: unknown): RpcMessage {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    return { kind: 'invalid', id: null, error: new MusterError('INVALID_REQUEST', 'A message must be a JSON object') };
  }
  const m = v as Record<string, unknown>;
  const id = m.id;
  const validId = id === undefined || id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
  const safeId: RpcId = validId && id !== undefined ? (id as RpcId) : null;
  if (m.jsonrpc !== PROTOCOL_VERSION) return { kind: 'invalid', id: safeId, error: new MusterError('INVALID_REQUEST', 'jsonrpc must be "2.0"') };
  if (!validId) return { kind: 'invalid', id: null, error: new MusterError('INVALID_REQUEST', 'id must be a string, a number or null') };
  if (typeof id === 'string' && id.length > 128) return { kind: 'invalid', id: null, error: new MusterError('INVALID_REQUEST', 'id is longer than 128 characters') };
  if ('result' in m || 'error' in m) return { kind: 'response', id: safeId, result: m.result, error: m.error };
  if (typeof m.method !== 'string' || m.method.length === 0 || m.method.length > 128) {
    return { kind: 'invalid', id: safeId, error: new MusterError('INVALID_REQUEST', 'method must be a non-empty string') };
  }
  const params = m.params === undefined ? {} : m.params;
  if (typeof params !== 'object' || params === null) {
    return { kind: 'invalid', id: safeId, error: new MusterError('INVALID_PARAMS', 'params must be an object') };
  }
  if (id === undefined) return { kind: 'notification', method: m.method, params };
  return { kind: 'request', id: id as string | number, method: m.method, params };
}

export function encodeResult(id: RpcId, resultJson: string): string {
  // A number id (finite: classify) is its own JSON, and String() is a third of JSON.stringify's cost.
  return `{"jsonrpc":"2.0","id":${typeof id === 'number' ? String(id) : JSON.stringify(id)},"result":${resultJson}}`;
}

const frozenJson = new WeakMap<object, string>();

/**
 * A result's JSON. A frozen result is a shared answer that never changes (a heartbeat's status):
 * encoded once, not once per call. Only a deeply frozen value may be frozen at its top.
 */
export function resultJson(result: unknown): string {
  if (typeof result !== 'object' || result === null || !Object.isFrozen(result)) return JSON.stringify(result ?? null);
  let json = frozenJson.get(result);
  if (json === undefined) frozenJson.set(result, (json = JSON.stringify(result)));
  return json;
}

export function encodeError(id: RpcId, err: MusterError): string {
  const data: Record<string, unknown> = { code: err.code };
  if (err.details) data.details = err.details;
  return JSON.stringify({ jsonrpc: PROTOCOL_VERSION, id, error: { code: ERRORS[err.code].rpc, message: err.message, data } });
}

/** A hub-to-client notification whose params are already encoded. */
export function encodeNotification(method: string, paramsJson: string): string {
  return `{"jsonrpc":"2.0","method":${JSON.stringify(method)},"params":${paramsJson}}`;
}
