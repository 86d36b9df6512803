import { partitionScenario } from '../support/chaos-partition.js';

// Chaos (issue 16): the link between replica A and PostgreSQL is reset (connections closed, new ones refused). See chaos-partition.ts.
partitionScenario('reset');
