/**
 * muster's errors as XML-RPC faults (sent with HTTP 200, as XML-RPC requires). Request-shape
 * errors keep the catalogue's JSON-RPC number, which is also the XML-RPC interop number (-32700
 * parse error, -32600 invalid request, -32601 unknown method, -32602 bad params, -32603
 * internal); every refusal of the relay itself (unknown host_id, max_sats reached, not your
 * satellite, over the rate limit, ...) is fault code 1, the code Python's SimpleXMLRPCServer gives
 * any exception of the original relay. The fault string always starts with the stable muster code:
 * "NO_SUCH_MEMBER: No satellite with host_id ...".
 */
import { ERRORS, type ErrorCode, type MusterError } from '../../errors.js';
import { encodeFault } from './encode.js';

export const APPLICATION_FAULT = 1;

const PROTOCOL_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'PARSE_ERROR', 'INVALID_REQUEST', 'METHOD_NOT_FOUND', 'INVALID_PARAMS', 'INTERNAL', 'PAYLOAD_TOO_LARGE', 'REQUEST_TIMEOUT', 'HEADERS_TOO_LARGE',
]);

export function faultCodeOf(code: ErrorCode): number {
  return PROTOCOL_CODES.has(code) ? ERRORS[code].rpc : APPLICATION_FAULT;
}

export function faultFor(code: ErrorCode, message: string): string {
  return encodeFault(faultCodeOf(code), `${code}: ${message}`);
}

export function faultOf(err: MusterError): string {
  return faultFor(err.code, err.message);
}
