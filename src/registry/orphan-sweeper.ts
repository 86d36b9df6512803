import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Replica } from '../coordination/coordination.module.js';
import { KEYS } from '../coordination/coordination.js';
import { EphemeralEndpoints } from './ephemeral-endpoints.js';
import { REGISTRY_STORE, type RegistryStore } from './store/registry-store.js';

/**
 * Singleton work, run only by the elected leader: removes heartbeat endpoints
 * whose service no longer exists. Deletes are fenced by the leader's token,
 * so a replica that lost leadership cannot remove anything.
 */
@Injectable()
export class OrphanSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('OrphanSweeper');
  private timer?: NodeJS.Timeout;
  /** Keys removed since start (for tests and metrics). */
  removed = 0;

  constructor(
    private readonly replica: Replica,
    private readonly ephemeral: EphemeralEndpoints,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), 2000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async sweep(): Promise<number> {
    if (!this.replica.election.isLeader) return 0;
    let n = 0;
    const services = new Set(this.ephemeral.all().map((e) => e.service!));
    for (const service of services) {
      try {
        if (await this.store.get({ kind: 'Service', scope: '', name: service })) continue;
        for (const e of this.ephemeral.of(service)) {
          if (await this.replica.election.fencedPut(KEYS.endpoint(service, e.name), null)) n++;
          else return n; // no longer the leader: stop at once
        }
      } catch (err) {
        this.log.debug(`sweep of ${service} skipped: ${(err as Error).message}`);
      }
    }
    if (n) this.log.log(`removed ${n} heartbeat endpoint(s) of deleted services`);
    this.removed += n;
    return n;
  }
}
