/** Every service's operations, in one list: what the native face serves and the SDK types. */
import { adminOperations } from './admin.js';
import { busOperations } from './bus.js';
import { controlOperations } from './control.js';
import { federationOperations } from './federation.js';
import { iccpOperations } from './iccp.js';
import type { MethodTypes, Operation } from './operation.js';
import { registryOperations } from './registry.js';
import { statsOperations } from './stats.js';

export const allOperations = [...registryOperations, ...busOperations, ...controlOperations, ...federationOperations, ...statsOperations, ...iccpOperations, ...adminOperations] as const;

/** Method name -> its params and result types (the SDK's typed calls). */
export type HubMethods = MethodTypes<typeof allOperations>;

export const operationsByName: ReadonlyMap<string, Operation> = new Map(allOperations.map((o) => [o.name, o as Operation]));

export type { Operation, Services } from './operation.js';
