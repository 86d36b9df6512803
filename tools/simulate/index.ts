/** The fleet load simulator's programmatic API (the CLI is cli.ts). */
export { runSimulation, planFleet, type SimulationHooks } from './simulate.js';
export { parseArgs, validateOptions, mixCounts, OptionError, DEFAULTS, USAGE, type SimOptions, type ClientKind, type ChangeKind } from './options.js';
export { formatReport } from './report.js';
export { spawnControlPlane, attachControlPlane, type ControlPlane, type ResourceSample } from './control-plane.js';
export type { SimulationResult, RunResult, ChangeResult, FloorResult } from './result.js';
export type { ProxyState, TypeKey } from './messages.js';
