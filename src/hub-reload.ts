/**
 * Reloading a running hub's config (SIGHUP, admin.reload): read the same layers again (the file
 * anew; environment and flags as they were at start), validate, compare key by key with the
 * config in effect, refuse the whole reload when a changed key needs a restart, then apply each
 * change through the part that owns it. Faces are the only part that can fail (a port taken):
 * they go first, and one that cannot start puts the others back, so a reload applies all or nothing.
 */
import type { Logger } from 'pino';
import type { HubConfig } from './config.js';
import { changedKeys, RELOADABLE_KEYS } from './config-diff.js';
import type { Federation } from './core/federation/federation.js';
import type { Relay } from './core/bus/relay.js';
import type { Registry } from './core/registry/registry.js';
import { MusterError, toMusterError } from './errors.js';
import { LEGACY_FACES, type LegacyFace } from './hub-faces.js';
import type { ReloadResult } from './schemas/admin.js';

type Key = keyof HubConfig;

/** What a reload changes in a hub (hub.ts implements it). */
export interface ReloadTarget {
  readonly config: HubConfig;
  readonly configLoadedAt: number;
  readonly log: Logger;
  readonly registry: Registry;
  readonly bus: Relay;
  readonly federation: Federation;
  hasFace(name: string): boolean;
  startFace(face: LegacyFace, config: HubConfig): Promise<void>;
  stopFace(name: string): Promise<void>;
  /** Leaves the registrar (deregistering) and registers with the config's, if it names one. */
  replaceRegistrar(config: HubConfig): Promise<void>;
  /** Queue bounds and the connection cap of the native port (HTTP and WebSocket). */
  setNativeLimits(config: HubConfig): void;
  /** The config in effect from now on. */
  adopt(config: HubConfig): void;
}

export class ConfigReloader {
  readonly #hub: ReloadTarget;
  readonly #load: () => HubConfig;
  #last: Promise<unknown> = Promise.resolve();

  /** `load` resolves the config's layers again (resolveConfig with the start's file, environment and flags). */
  constructor(hub: ReloadTarget, load: () => HubConfig) {
    this.#hub = hub;
    this.#load = load;
  }

  /** One reload at a time: a second waits for the first, then compares with what it left. */
  reload(by: string): Promise<ReloadResult> {
    const run = this.#last.then(() => this.#reload(by)).catch((err: unknown) => {
      const e = toMusterError(err);
      this.#hub.log.warn({ by, code: e.code, details: e.details, ...(e === err ? {} : { err }) }, `config reload refused: ${e.message}`);
      throw e;
    });
    this.#last = run.catch(() => {});
    return run;
  }

  async #reload(by: string): Promise<ReloadResult> {
    const hub = this.#hub;
    const next = this.#read();
    const changed = changedKeys(hub.config, next);
    if (changed.length === 0) {
      hub.log.info({ by }, 'config reloaded: nothing changed');
      return { changed: [], restarted: [], loadedAt: hub.configLoadedAt };
    }
    const fixed = changed.filter((k) => !RELOADABLE_KEYS.has(k));
    if (fixed.length > 0) {
      throw new MusterError('CONFIG_NOT_RELOADABLE',
        `${fixed.join(', ')} ${fixed.length === 1 ? 'takes' : 'take'} effect only at a restart; nothing was applied (restart the hub, or put the running value back to reload the rest)`,
        { keys: fixed });
    }
    const restarted = await this.#restartFaces(hub.config, next, changed);
    // Nothing below can fail: the reload is applied whole.
    if (has(changed, 'registrar', 'registrarToken')) {
      await hub.replaceRegistrar(next);
      restarted.push('registrar');
    }
    if (has(changed, 'adminToken', 'registrationKey', 'maxMembers')) {
      hub.registry.policy.reconfigure({
        registrationKey: next.registrationKey, maxMembers: next.maxMembers,
        ...(has(changed, 'adminToken') ? { adminToken: { value: next.adminToken, graceMs: next.adminTokenGraceMs } } : {}),
      });
    }
    if (has(changed, 'busRateLimits')) hub.bus.setRateLimits(next.busRateLimits);
    if (has(changed, 'federationToken', 'federationAllow')) hub.federation.setChildAccess(next.federationToken, next.federationAllow);
    if (has(changed, 'busQueueMessages', 'busQueueBytes', 'busSlowPolicy', 'maxWatchQueueBytes', 'maxConnections')) hub.setNativeLimits(next);
    // allowOrigins and deregisterOnStop are read from the config in effect each time they are used.
    hub.adopt(next);
    this.#logAndSetLevel(by, changed, restarted, has(changed, 'logLevel') ? next.logLevel : null);
    return { changed, restarted, loadedAt: hub.configLoadedAt };
  }

  /** The layers resolved again, or CONFIG_INVALID saying why (the key, when the schema refused one). */
  #read(): HubConfig {
    let next: HubConfig;
    try {
      next = this.#load();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const path = err instanceof MusterError && typeof err.details?.path === 'string' ? err.details.path : '';
      const key = path.split('/')[1];
      throw new MusterError('CONFIG_INVALID', `${message}; the hub keeps the config it runs with`, key ? { key } : undefined);
    }
    if (next.registrar && !next.registrarToken) {
      throw new MusterError('CONFIG_INVALID', 'config.registrar needs registrarToken (the parent\'s federation token); the hub keeps the config it runs with', { key: 'registrarToken' });
    }
    return next;
  }

  /** Each face whose keys changed is stopped and started again; one that cannot start puts them all back. */
  async #restartFaces(from: HubConfig, to: HubConfig, changed: Key[]): Promise<string[]> {
    const done: LegacyFace[] = [];
    for (const face of LEGACY_FACES) {
      if (!face.keys.some((k) => changed.includes(k))) continue;
      try {
        await this.#swap(face, from, to);
        done.push(face);
      } catch (err) {
        for (const f of [face, ...done.reverse()]) {
          await this.#swap(f, to, from).catch((e: unknown) => this.#hub.log.error({ err: e, face: f.name }, `the ${f.name} face could not start again with the running config: it is off`));
        }
        const why = err instanceof Error ? err.message : String(err);
        throw new MusterError('CONFIG_INVALID', `The ${face.name} face cannot start with the new config (${why}); nothing was applied`, { key: face.name });
      }
    }
    return done.map((f) => f.name);
  }

  async #swap(face: LegacyFace, from: HubConfig, to: HubConfig): Promise<void> {
    if (this.#hub.hasFace(face.name)) await this.#hub.stopFace(face.name);
    if (face.wanted(to)) await this.#hub.startFace(face, to);
  }

  /** The reload is logged at info under the more verbose of the old and new levels, so it shows unless both hide info. */
  #logAndSetLevel(by: string, changed: Key[], restarted: string[], level: HubConfig['logLevel'] | null): void {
    const log = this.#hub.log;
    const values = log.levels.values;
    if (level !== null && (values[level] ?? Infinity) < (values[log.level] ?? Infinity)) log.level = level;
    log.info({ by, changed, restarted }, `config reloaded: ${changed.join(', ')}`);
    if (level !== null) log.level = level;
  }
}

function has(changed: readonly Key[], ...keys: Key[]): boolean {
  return keys.some((k) => changed.includes(k));
}
