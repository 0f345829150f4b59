/**
 * What a reload may change: the keys a running hub takes at once (docs/operations.md has the
 * table and what each means), the keys that differ between two configs, and a config as
 * `GET /v1/info` shows it, secrets redacted.
 */
import { isDeepStrictEqual } from 'node:util';
import { HubConfig } from './config.js';

type Key = keyof HubConfig;

/** Keys a reload applies; every other key needs a restart. */
export const RELOADABLE_KEYS: ReadonlySet<Key> = new Set<Key>([
  'logLevel', 'adminToken', 'adminTokenGraceMs', 'registrationKey', 'maxMembers',
  'busRateLimits', 'busQueueMessages', 'busQueueBytes', 'busSlowPolicy', 'maxWatchQueueBytes',
  'allowOrigins', 'maxConnections', 'deregisterOnStop', 'registrar', 'registrarToken', 'federationToken', 'federationAllow',
  'plantimager', 'plantimagerAllow',
  'co2', 'co2MaxSats', 'co2PingIntervalMs', 'co2PingFailures', 'co2TimeoutMs', 'co2NotifyPerSec', 'co2QueueMessages',
  'iccp', 'iccpEndpoints', 'iccpReadyTimeoutMs', 'iccpFinishedTimeoutMs', 'iccpMaxFrameBytes', 'iccpMaxEndpoints',
  'rsb', 'rsbConnect', 'rsbMaxFrameBytes', 'rsbIdleTimeoutMs', 'rsbScopes',
]);

/** Every key of the schema, in its order. */
export const CONFIG_KEYS = Object.keys(HubConfig.properties) as Key[];

/** The keys whose values differ (absent and undefined are the same). */
export function changedKeys(from: HubConfig, to: HubConfig): Key[] {
  return CONFIG_KEYS.filter((k) => !isDeepStrictEqual(from[k], to[k]));
}

/** Keys that hold secrets: shown as "[redacted]" when set. */
const SECRET_KEYS: ReadonlySet<Key> = new Set<Key>(['adminToken', 'registrationKey', 'registrarToken', 'federationToken']);
/** Keys that hold URLs, whose password part is a secret (redis://user:PASSWORD@host). */
const URL_KEYS: ReadonlySet<Key> = new Set<Key>(['cluster', 'registrar']);
export const REDACTED = '[redacted]';

/** The config with every secret replaced by "[redacted]": safe to show to anyone who may read /v1/info. */
export function redactConfig(config: HubConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of CONFIG_KEYS) {
    const v = config[k];
    if (v === undefined) continue;
    out[k] = SECRET_KEYS.has(k) ? REDACTED : URL_KEYS.has(k) && typeof v === 'string' ? withoutPassword(v) : v;
  }
  return out;
}

function withoutPassword(url: string): string {
  // scheme://user:password@host -> scheme://user:[redacted]@host. Up to the last "@", so that an
  // unencoded "@" or "/" in a password is redacted too (a path with "@" is over-redacted: safe).
  const start = url.indexOf('://') + 3;
  const at = url.lastIndexOf('@');
  if (start < 3 || at < start) return url;
  const colon = url.indexOf(':', start);
  if (colon < 0 || colon > at) return url;
  return `${url.slice(0, colon)}:${REDACTED}${url.slice(at)}`;
}
