/** Admin operations' params and results: evicting a member, the log level, checking federation links, draining, reloading the config. */
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

/** What the connection monitor found on one link (admin.checkLinks). */
export const LINK_STATUSES = ['ok', 'suspect', 'lost'] as const;
export const LinkCheck = Type.Object({
  hubId: Type.Union([Type.String(), Type.Null()], { description: 'The hub at the other end (null: a registrar that never answered)' }),
  role: Type.Union([Type.Literal('registrar'), Type.Literal('child')], { description: "registrar: this hub's parent; child: a hub registered here" }),
  address: Type.String({ description: "The registrar's URL, or the child's first point of access" }),
  status: Type.Union(LINK_STATUSES.map((s) => Type.Literal(s)), {
    description: 'ok: answered; suspect: the link is down and the hub kept for now (a child for its grace period, the registrar retried); lost: no answer on an open link (a child removed with its subtree; the registrar link dropped and tried again)',
  }),
  rttMs: Type.Optional(Type.Number({ description: 'Round trip of the check, in ms' })),
  error: Type.Optional(Type.String({ description: 'Why it is not ok' })),
  note: Type.Optional(Type.String({ description: 'What the check did beside (registered again)' })),
});
export type LinkCheck = Static<typeof LinkCheck>;

export const CheckLinksParams = Type.Object({
  timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 30_000, description: "How long each hub has to answer (default: the monitor's, min(federationMonitorMs, 5 s))" })),
}, { additionalProperties: false });
export const CheckLinksResult = Type.Object({ links: Type.Array(LinkCheck) });

export const DRAIN_TIMEOUT_MAX_MS = 3_600_000;
export const DrainParams = Type.Object({
  timeoutMs: Type.Optional(Type.Integer({ minimum: 0, maximum: DRAIN_TIMEOUT_MAX_MS, description: 'Stop after this long even if session members are still here (default 30 s)' })),
}, { additionalProperties: false });
export const DrainResult = Type.Object({
  draining: Type.Literal(true),
  since: Type.Number({ description: 'When the drain began (ms since the epoch); a second call answers the same drain' }),
  deadline: Type.Number({ description: 'When the hub stops at the latest (ms since the epoch)' }),
  sessions: Type.Integer({ description: 'Session members connected here when asked, told to move to another hub' }),
});
export type DrainResult = Static<typeof DrainResult>;
export const ReloadParams = Type.Object({}, { additionalProperties: false });
export const ReloadResult = Type.Object({
  changed: Type.Array(Type.String(), { description: 'Config keys whose new values are now in effect; empty when the file held nothing new' }),
  restarted: Type.Array(Type.String(), { description: 'What was stopped and started again to take them: faces (co2, rsb, ...) and the registrar link' }),
  loadedAt: Type.Number({ description: 'When the config in effect was loaded (ms since the epoch)' }),
});
export type ReloadResult = Static<typeof ReloadResult>;
