/**
 * The Saturnin ICCP face's operations: endpoints handed out on demand (the hub binds a PAIR
 * socket and answers with its address), the list of endpoints, and the exit of a component
 * process reported by whoever started it (`muster launch`). The face implements `IccpPort`;
 * without `--iccp` the operations answer NOT_FOUND.
 */
import { Type } from '@sinclair/typebox';
import { MusterError } from '../../errors.js';
import { LifecycleState } from '../../schemas/control.js';
import { LIMITS } from '../../schemas/member.js';
import { IccpEndpointView, type IccpPort } from './iccp-port.js';
import { op, type Services } from './operation.js';

const Name = Type.String({ minLength: 1, maxLength: LIMITS.nameMax, description: 'Component name: 1-64 characters of [A-Za-z0-9._-]' });

function iccpOf(s: Services): IccpPort {
  if (!s.iccp) throw new MusterError('NOT_FOUND', 'The ICCP face is off: start the hub with --iccp');
  return s.iccp;
}

export const iccpOperations = [
  op({
    name: 'iccp.endpoint',
    summary: 'Controller: the ICCP endpoint of a Saturnin component, bound now if it has none; the component connects its PAIR socket there. Admin or controller token.',
    params: Type.Object({ name: Name }, { additionalProperties: false }),
    result: IccpEndpointView,
    http: { method: 'POST', path: '/v1/iccp/endpoints/:name', from: 'none', auth: true },
    run: (s, p, caller) => {
      s.control.authorize(caller);
      return iccpOf(s).endpoint(p.name);
    },
  }),
  op({
    name: 'iccp.endpoints',
    summary: 'The ICCP endpoints: declared, handed out and restored, with their last message and last error.',
    params: Type.Object({}, { additionalProperties: false }),
    result: Type.Object({ endpoints: Type.Array(IccpEndpointView) }),
    http: { method: 'GET', path: '/v1/iccp/endpoints', from: 'none' },
    run: (s) => ({ endpoints: iccpOf(s).endpoints() }),
  }),
  op({
    name: 'iccp.exited',
    summary: 'Launcher: the process of component `name` exited (muster launch reports it); its lifecycle records it. Admin or controller token.',
    params: Type.Object({
      name: Name,
      code: Type.Optional(Type.Union([Type.Integer({ minimum: -1024, maximum: 1024 }), Type.Null()])),
      signal: Type.Optional(Type.Union([Type.String({ maxLength: 32, pattern: '^[A-Z0-9]*$' }), Type.Null()])),
    }, { additionalProperties: false }),
    result: Type.Object({ state: Type.Union([LifecycleState, Type.Null()]) }),
    http: { method: 'POST', path: '/v1/iccp/endpoints/:name/exited', auth: true },
    run: (s, p, caller) => {
      s.control.authorize(caller);
      const text = p.signal ? `killed by ${p.signal}` : `exit code ${p.code ?? 'unknown'}`;
      return { state: iccpOf(s).exited(p.name, text) };
    },
  }),
] as const;
