/**
 * The Switchyard client library for apps: `import { ConfigClient, registerInstance } from 'switchyard/client'`.
 * It imports nothing of the server (checked by the dependency rules).
 */
export { ConfigClient, type ChangeHandler, type ConfigClientOptions, type ConfigValue } from './config-client.js';
export { registerInstance, type Registration, type RegisterOptions } from './register.js';
export { parseContent } from '../common/config-format.js';
