import { registryContract } from './registry.contract.js';

registryContract('postgres');
