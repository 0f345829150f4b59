/** The package's main entry (`import { Hub } from 'muster'`): run a hub inside a program. The SDK is `muster/client`. */
export { Hub, type HubOptions } from './hub.js';
export { DEFAULT_CONFIG, resolveConfig, type HubConfig } from './config.js';
export { ERRORS, ERROR_CODES, MusterError, type ErrorCode } from './errors.js';
export { VERSION } from './version.js';
