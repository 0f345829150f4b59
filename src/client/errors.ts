/**
 * The SDK's error classes. Hub errors keep the hub's stable string code (`NAME_TAKEN`,
 * `UNAUTHORIZED`, ...); connection loss and local timeouts have their own classes so callers
 * can tell "the hub said no" from "the hub did not answer".
 */
import type { ErrorCode } from '../errors.js';

/** A muster code, or a client-side one (CONNECTION_CLOSED). */
export type ClientErrorCode = ErrorCode | 'CONNECTION_CLOSED' | (string & {});

export class MusterClientError extends Error {
  /** The hub's stable string code, e.g. `NAME_TAKEN`. */
  readonly code: ClientErrorCode;
  /** The JSON-RPC numeric code, when the error came from the hub. */
  readonly rpcCode: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ClientErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown; rpcCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MusterClientError';
    this.code = code;
    this.details = details;
    this.rpcCode = options?.rpcCode;
  }
}

/** The connection closed before the hub answered (or the client is closed / reconnecting). */
export class ConnectionClosedError extends MusterClientError {
  constructor(message = 'The connection to the hub is closed', options?: { cause?: unknown }) {
    super('CONNECTION_CLOSED', message, undefined, options);
    this.name = 'ConnectionClosedError';
  }
}

/** No answer within the request timeout (a local timeout; the hub's own TIMEOUT code is the same). */
export class TimeoutError extends MusterClientError {
  constructor(message: string, details?: Record<string, unknown>, rpcCode?: number) {
    super('TIMEOUT', message, details, { rpcCode });
    this.name = 'TimeoutError';
  }
}

/** A JSON-RPC error object from the hub as a typed error. */
export function fromRpcError(error: unknown): MusterClientError {
  const e = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; message?: unknown; data?: unknown };
  const data = (typeof e.data === 'object' && e.data !== null ? e.data : {}) as { code?: unknown; details?: unknown };
  const code = typeof data.code === 'string' ? data.code : 'INTERNAL';
  const message = typeof e.message === 'string' ? e.message : 'The hub answered with an error';
  const details = typeof data.details === 'object' && data.details !== null ? (data.details as Record<string, unknown>) : undefined;
  const rpcCode = typeof e.code === 'number' ? e.code : undefined;
  if (code === 'TIMEOUT') return new TimeoutError(message, details, rpcCode);
  return new MusterClientError(code, message, details, { rpcCode });
}

/** The link failed (closed or silent), as opposed to the hub refusing: retried on a fresh connection. */
export const isLinkError = (err: unknown): boolean => err instanceof ConnectionClosedError || err instanceof TimeoutError;
