/**
 * The CO2 pinger's check, for `probe` liveness with an `xmlrpc://host:port/path` target: an
 * XML-RPC `ping()` POSTed to http://host:port/path. Any XML-RPC answer counts as alive, a fault
 * included (the satellite's server answered; a plain SimpleXMLRPCServer without `ping` answers
 * one); no answer in time, an HTTP error or a body that is not XML-RPC is a failure. The core's
 * prober times it and keeps the round-trip stats (core/registry/prober.ts).
 */
import type { ProbeOnce } from '../../core/ports.js';
import { encodeCall } from './encode.js';
import { endpointOf, postXmlRpc } from './http-client.js';

export const PING_SCHEME = 'xmlrpc:';

const PING_BODY = encodeCall('ping', []);

/** A fresh connection per ping: pings are seconds apart, and the originals close after each answer. */
export const xmlrpcPing: ProbeOnce = async (target, timeoutMs) => {
  await postXmlRpc(endpointOf(target), PING_BODY, timeoutMs);
};
