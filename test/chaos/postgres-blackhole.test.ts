import { partitionScenario } from '../support/chaos-partition.js';

// Chaos (issue 16): the link between replica A and PostgreSQL drops every byte and closes nothing; only A's timeouts can tell. See chaos-partition.ts.
partitionScenario('blackhole');
