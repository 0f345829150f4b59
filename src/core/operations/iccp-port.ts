/** What the ICCP face offers the core's operations (core/operations/iccp.ts): its endpoints. */
import { Type, type Static } from '@sinclair/typebox';
import type { LifecycleState } from '../../schemas/control.js';

export const IccpEndpointView = Type.Object({
  name: Type.String({ description: 'The component\'s member name (the endpoint\'s name)' }),
  endpoint: Type.String({ description: 'The bound ZeroMQ PAIR address the component connects to' }),
  origin: Type.Union([Type.Literal('config'), Type.Literal('on-demand'), Type.Literal('restored')], { description: 'Declared in config, handed out on demand, or bound again after a restart for a known component' }),
  connected: Type.Boolean({ description: 'A component holds the endpoint now' }),
  sessions: Type.Integer({ description: 'Sessions (component connections) since the hub started' }),
  lastMessage: Type.Union([Type.String(), Type.Null()], { description: 'The last message a component sent on it' }),
  lastError: Type.Union([Type.String(), Type.Null()], { description: 'Why the last failed session failed' }),
  since: Type.Number({ description: 'When the endpoint was bound (ms since the epoch)' }),
});
export type IccpEndpointView = Static<typeof IccpEndpointView>;

/** What the ICCP face offers the operations. */
export interface IccpPort {
  /** The endpoint of component `name`: the one it has, or a newly bound one. */
  endpoint(name: string): Promise<IccpEndpointView>;
  endpoints(): IccpEndpointView[];
  /** A component process exited; its lifecycle records it (null: no member of that name yet). */
  exited(name: string, text: string): LifecycleState | null;
}
