/** Admin operations' params and results: evicting a member, the hub's log level, reloading its config. */
import { Type, type Static } from '@sinclair/typebox';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LogLevel = Type.Union(LOG_LEVELS.map((l) => Type.Literal(l)), { description: 'pino level' });
export type LogLevel = Static<typeof LogLevel>;

export const EVICT_NOTE_MAX = 200;

export const EvictParams = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64, description: 'Member name or id' }),
  reason: Type.Optional(Type.String({ minLength: 1, maxLength: EVICT_NOTE_MAX, description: 'Why, in words: the removed event carries it as `note`' })),
}, { additionalProperties: false });

export const EvictResult = Type.Object({ ok: Type.Literal(true) });

export const LogLevelParams = Type.Object({ level: LogLevel }, { additionalProperties: false });
export const LogLevelResult = Type.Object({ level: LogLevel, previous: LogLevel });

export const ReloadParams = Type.Object({}, { additionalProperties: false });
export const ReloadResult = Type.Object({
  changed: Type.Array(Type.String(), { description: 'Config keys whose new values are now in effect; empty when the file held nothing new' }),
  restarted: Type.Array(Type.String(), { description: 'What was stopped and started again to take them: faces (co2, rsb, ...) and the registrar link' }),
  loadedAt: Type.Number({ description: 'When the config in effect was loaded (ms since the epoch)' }),
});
export type ReloadResult = Static<typeof ReloadResult>;
