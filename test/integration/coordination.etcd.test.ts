import { EtcdCoordination } from '../../src/coordination/etcd-coordination.js';
import { coordinationContract } from './coordination.contract.js';
import { TestEtcd } from '../support/etcd.js';

coordinationContract('etcd', async () => {
  const etcd = await TestEtcd.start();
  const coord = new EtcdCoordination([etcd.endpoint]);
  return {
    coord,
    extra: async () => new EtcdCoordination([etcd.endpoint]),
    compact: (revision: number) => etcd.compact(revision),
    stop: async () => {
      await coord.close();
      await etcd.stop();
    },
  };
});
