/**
 * The one error catalogue. Every error muster returns has a stable string code (the key),
 * a default message, an HTTP status and a JSON-RPC code. Faces map these onto their own wire
 * format; docs/protocol.md lists every code (test/errors.test.ts keeps the two in step).
 * Codes are never renamed or reused.
 */
export const ERRORS = {
  // Request shape
  PARSE_ERROR: { status: 400, rpc: -32700, message: 'The request is not valid JSON' },
  INVALID_REQUEST: { status: 400, rpc: -32600, message: 'The request is not a valid request object' },
  METHOD_NOT_FOUND: { status: 404, rpc: -32601, message: 'No such method' },
  INVALID_PARAMS: { status: 400, rpc: -32602, message: 'Invalid parameters' },
  INTERNAL: { status: 500, rpc: -32603, message: 'Internal error' },
  PAYLOAD_TOO_LARGE: { status: 413, rpc: -32001, message: 'The request is too large' },
  NOT_FOUND: { status: 404, rpc: -32002, message: 'No such route' },
  REQUEST_TIMEOUT: { status: 408, rpc: -32003, message: 'The request was not received in time' },
  HEADERS_TOO_LARGE: { status: 431, rpc: -32004, message: 'The request headers are too large' },
  // Registry
  INVALID_NAME: { status: 400, rpc: -32010, message: 'Names are 1-64 characters of [A-Za-z0-9._-]' },
  NAME_TAKEN: { status: 409, rpc: -32011, message: 'The name is taken' },
  NO_SUCH_MEMBER: { status: 404, rpc: -32012, message: 'No such member' },
  REGISTRY_FULL: { status: 503, rpc: -32013, message: 'The registry is full' },
  COMPACTED: { status: 410, rpc: -32014, message: 'The requested revision is older than the event log keeps' },
  MEMBER_EXISTS: { status: 409, rpc: -32015, message: 'The member this registration would make (its newToken) exists already: try again' },
  // Auth
  UNAUTHORIZED: { status: 401, rpc: -32020, message: 'A valid token is required' },
  FORBIDDEN: { status: 403, rpc: -32021, message: 'This token may not do that' },
  // Bus
  INVALID_SCOPE: { status: 400, rpc: -32030, message: 'Scopes look like /a/b/ with components of [-_a-zA-Z0-9]' },
  THROTTLED: { status: 429, rpc: -32031, message: 'Rate limit exceeded' },
  TIMEOUT: { status: 504, rpc: -32032, message: 'No answer within the timeout' },
  MEMBER_GONE: { status: 410, rpc: -32033, message: 'The member left while the request was open' },
  NOT_CONNECTED: { status: 409, rpc: -32034, message: 'The member has no open session' },
  MEMBER_ERROR: { status: 502, rpc: -32035, message: 'The member answered the request with an error' },
  SLOW_CONSUMER: { status: 503, rpc: -32036, message: 'The receiver fell too far behind and was dropped' },
  // Lifecycle control
  PROTOCOL_ERROR: { status: 409, rpc: -32040, message: 'Lifecycle protocol error' },
  INVALID_STATE: { status: 409, rpc: -32041, message: 'Not allowed in the current lifecycle state' },
  // Federation
  NO_SUCH_HUB: { status: 404, rpc: -32050, message: 'No such hub' },
  HUB_UNREACHABLE: { status: 502, rpc: -32051, message: 'The hub cannot be reached' },
  HUB_ID_TAKEN: { status: 409, rpc: -32052, message: 'Another hub in the tree has this hub id' },
  // Hub
  SHUTTING_DOWN: { status: 503, rpc: -32060, message: 'The hub is shutting down' },
  STORE_UNAVAILABLE: { status: 503, rpc: -32061, message: 'The store cannot take writes (Redis cannot be reached, the SQLite file\'s disk is full, or a write or sync of the file failed)' },
  DRAINING: { status: 503, rpc: -32062, message: 'The hub is draining before it stops: connect to another hub' },
  CONFIG_INVALID: { status: 400, rpc: -32063, message: 'The config cannot be used; the hub keeps the one it runs with' },
  CONFIG_NOT_RELOADABLE: { status: 409, rpc: -32064, message: 'The config changes keys that take effect only at a restart; nothing was applied' },
  // Snapshots
  SNAPSHOT_INVALID: { status: 400, rpc: -32070, message: 'The file is not a whole, valid muster snapshot' },
  SNAPSHOT_UNSUPPORTED: { status: 501, rpc: -32071, message: "This hub's store cannot give a snapshot" },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** An error with a stable code; faces turn it into their wire format. */
export class MusterError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message ?? ERRORS[code].message, options);
    this.name = 'MusterError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERRORS, value);
}

/** Any thrown value as a MusterError; unexpected ones become INTERNAL without leaking internals. */
export function toMusterError(err: unknown): MusterError {
  if (err instanceof MusterError) return err;
  return new MusterError('INTERNAL', undefined, undefined, { cause: err });
}

/** A JSON-RPC error object as a peer sent it. */
export interface RpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

/**
 * The other side of a connection answered one of the hub's requests with an error: a member's own
 * error (its answer to a bus request), or another hub's MusterError (a forwarded call). The one
 * type for "the peer said no"; `asMemberError` and `asHubError` say what it means to the caller.
 */
export class PeerError extends Error {
  readonly rpcError: RpcErrorObject;
  constructor(rpcError: RpcErrorObject) {
    super(rpcError.message);
    this.name = 'PeerError';
    this.rpcError = rpcError;
  }

  /** A JSON-RPC error object from anything a peer sent (code -32000 and "error" where it gave none). */
  static from(value: unknown): PeerError {
    const e = (typeof value === 'object' && value !== null ? value : {}) as { code?: unknown; message?: unknown; data?: unknown };
    const out: RpcErrorObject = { code: typeof e.code === 'number' ? e.code : -32000, message: typeof e.message === 'string' ? e.message : 'error' };
    if (e.data !== undefined) out.data = e.data;
    return new PeerError(out);
  }
}

/** A member's error answer, for whoever asked it: MEMBER_ERROR carrying the member's error object. */
export function asMemberError(err: unknown, member: string): unknown {
  return err instanceof PeerError ? new MusterError('MEMBER_ERROR', err.rpcError.message, { member, error: err.rpcError }) : err;
}

/**
 * Another hub's answer to a forwarded call: its own code kept (`data.code`), INTERNAL when it
 * gave none; anything else (no answer, a dropped link) is HUB_UNREACHABLE.
 */
export function asHubError(err: unknown): MusterError {
  if (err instanceof PeerError) {
    const data = (typeof err.rpcError.data === 'object' && err.rpcError.data !== null ? err.rpcError.data : {}) as { code?: unknown; details?: unknown };
    const details = typeof data.details === 'object' && data.details !== null ? (data.details as Record<string, unknown>) : undefined;
    return new MusterError(isErrorCode(data.code) ? data.code : 'INTERNAL', err.rpcError.message, details);
  }
  const text = err instanceof Error ? err.message : String(err);
  return new MusterError('HUB_UNREACHABLE', `The next hub did not answer: ${text}`);
}
