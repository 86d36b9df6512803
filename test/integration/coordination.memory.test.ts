import { MemoryCoordination } from '../../src/coordination/memory-coordination.js';
import { coordinationContract } from './coordination.contract.js';

coordinationContract('in-memory', async () => {
  const coord = new MemoryCoordination();
  // Two "replicas" in one process share the in-memory store.
  return { coord, extra: async () => coord, compact: async (rev: number) => coord.compact(rev), stop: () => coord.close() };
});
