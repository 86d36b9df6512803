import { hostname } from 'node:os';
import { Global, Inject, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/config.js';
import { COORDINATION, type Coordination, KEYS } from './coordination.js';
import { CoordinationMetrics } from './coordination-metrics.js';
import { Election } from './election.js';
import { EtcdCoordination } from './etcd-coordination.js';
import { HealthBoard } from './health-board.js';
import { MemoryCoordination } from './memory-coordination.js';


/** This replica's identity and its view of who leads. */
@Injectable()
export class Replica implements OnApplicationShutdown {
  private readonly log = new Logger('Replica');
  readonly id: string;
  readonly election: Election;

  constructor(
    @Inject(COORDINATION) readonly coordination: Coordination,
    @Inject(AppConfig) config: AppConfig,
  ) {
    this.id = config.REPLICA_ID ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
    this.election = new Election(coordination, KEYS.leader, this.id, config.LEADER_TTL_SECONDS);
    this.election.onChange((leading) => this.log.log(leading ? `${this.id} is now the leader` : `${this.id} is no longer the leader`));
    this.election.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.election.stop();
    await this.coordination.close();
  }
}

/** The coordination port (etcd when ETCD_ENDPOINTS is set, else in-memory), leader election, the health results kept in it, and its metrics. */
@Global()
@Module({
  providers: [
    {
      provide: COORDINATION,
      inject: [AppConfig],
      useFactory: (config: AppConfig): Coordination =>
        config.ETCD_ENDPOINTS ? new EtcdCoordination(config.ETCD_ENDPOINTS.split(',').map((s) => s.trim()).filter(Boolean)) : new MemoryCoordination(),
    },
    Replica,
    HealthBoard,
    CoordinationMetrics,
  ],
  exports: [COORDINATION, Replica, HealthBoard, CoordinationMetrics],
})
export class CoordinationModule {}
