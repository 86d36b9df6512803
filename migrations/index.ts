import { InitRegistry1763769600000 } from './1763769600000-InitRegistry.js';
import { ConfigCentre1764633600000 } from './1764633600000-ConfigCentre.js';
import { Tokens1764720000000 } from './1764720000000-Tokens.js';
import { Audit1764720100000 } from './1764720100000-Audit.js';

/** Every migration, oldest first. Add new ones here (ESM cannot glob-load them reliably). */
export const MIGRATIONS = [InitRegistry1763769600000, ConfigCentre1764633600000, Tokens1764720000000, Audit1764720100000];
