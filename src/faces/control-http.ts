/** Lifecycle control over HTTP: the controller API as routes (components speak over WebSocket). */
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Control } from '../core/control.js';
import { MusterError } from '../errors.js';
import {
  Config, ConfigureResult, GroupConfigureParams, GroupConfigureResult, GroupStopParams, GroupStopResult, LifecycleRecord,
  StopResult,
} from '../schemas/control.js';
import { validate } from '../schemas/validate.js';
import { bodyObject, type HttpRoute } from './http.js';

const Timeout = Type.Optional(Type.Integer({ minimum: 10, maximum: 600_000, description: 'How long to wait for the answer, in ms' }));
const ConfigureBody = Type.Object({ config: Config, timeoutMs: Timeout }, { additionalProperties: false });
const StopBody = Type.Object({ timeoutMs: Timeout }, { additionalProperties: false });
const NamePath = Type.Object({ name: Type.String() });


const nameOf = (req: FastifyRequest): string => (req.params as { name: string }).name;

export function controlHttpRoutes(control: Control): HttpRoute[] {
  return [
    {
      method: 'POST', url: '/v1/members/:name/configure', path: NamePath, body: ConfigureBody, response: ConfigureResult, auth: true,
      summary: 'Send CONFIGURE to a component; answers {ok: true} or {ok: false, error: its ERROR text}. Admin or controller token.',
      handler: (req, _reply, caller) => {
        const p = validate(ConfigureBody, bodyObject(req), 'body');
        return control.configure(nameOf(req), p.config, { timeoutMs: p.timeoutMs }, caller);
      },
    },
    {
      method: 'POST', url: '/v1/members/:name/stop', path: NamePath, body: StopBody, response: StopResult, auth: true,
      summary: 'Send STOP to a component; answers its FINISHED outcome and details. Admin or controller token.',
      handler: (req, _reply, caller) => {
        const p = validate(StopBody, bodyObject(req), 'body');
        return control.stop(nameOf(req), { timeoutMs: p.timeoutMs }, caller);
      },
    },
    {
      method: 'GET', url: '/v1/members/:name/lifecycle', path: NamePath, response: LifecycleRecord,
      summary: "A component's lifecycle state, endpoints, last error, open command and transition history.",
      handler: (req) => control.lifecycle(nameOf(req)),
    },
    {
      method: 'POST', url: '/v1/control/configure', body: GroupConfigureParams, response: GroupConfigureResult, auth: true,
      summary: 'CONFIGURE every component matching {selector: {type, meta, prefix, state}}; one outcome per member.',
      handler: (req, _reply, caller) => {
        const p = validate(GroupConfigureParams, bodyObject(req), 'body');
        return control.configureGroup(p.selector, p.config, { timeoutMs: p.timeoutMs }, caller);
      },
    },
    {
      method: 'POST', url: '/v1/control/stop', body: GroupStopParams, response: GroupStopResult, auth: true,
      summary: 'STOP every component matching {selector}; one outcome per member.',
      handler: (req, _reply, caller) => {
        const p = validate(GroupStopParams, bodyObject(req), 'body');
        return control.stopGroup(p.selector, { timeoutMs: p.timeoutMs }, caller);
      },
    },
  ];
}
