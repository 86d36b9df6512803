import type { Coordination } from './coordination.js';

/** What the renewer knows of one lease it renewed. */
interface LeaseState {
  ttlSeconds: number;
  /** When the last renewal that found the lease alive was sent (ms): the lease lives until at least this + TTL. */
  renewedAt: number;
  /** TTL the backend reported then. */
  remaining: number;
  /** Last heartbeat seen for it here (ms). */
  lastSeen: number;
  /** A heartbeat came after the last renewal was sent: renew on a later tick (see flush). */
  dirty: boolean;
  inFlight?: Promise<number>;
}

/**
 * Renews passive (heartbeat) leases in batches, per replica, off the
 * heartbeat's path. A heartbeat for a lease this replica renewed less than
 * 2·TTL/3 ago is answered from memory (the lease has at least TTL/3 left) and
 * only noted; a batch tick then renews the noted leases:
 *
 * - while heartbeats keep coming, once per TTL/3 per lease, whatever their rate;
 * - once they pause for `quietMs` (maybe the last one), at once: the deferred
 *   renewal. Expiry then comes between TTL and TTL + quietMs + one tick after
 *   the last heartbeat, never before.
 *
 * The lease and its key stay in the coordination backend, so every replica sees
 * the endpoint, and its expiry, whichever replica took the heartbeats. Only a
 * replica's first heartbeat for a lease (or one after coordination trouble)
 * waits for a round trip, which also tells it whether the lease still exists.
 */
export class LeaseRenewer {
  private readonly leases = new Map<string, LeaseState>();
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly coord: Coordination,
    private readonly quietMs = 500,
    private readonly tickMs = 100,
  ) {}

  /** Renewals actually sent, and heartbeats answered from memory: for tests and benchmarks. */
  sent = 0;
  absorbed = 0;

  /**
   * One heartbeat for `leaseId`: resolves to the remaining TTL in seconds, or 0
   * when the lease no longer exists.
   */
  heartbeat(leaseId: string, ttlSeconds: number): Promise<number> {
    const now = Date.now();
    const s = this.leases.get(leaseId);
    if (s && (s.remaining > 0 || s.inFlight)) {
      s.lastSeen = now;
      s.dirty = true;
      this.arm();
      if (s.remaining > 0 && now - s.renewedAt < (s.ttlSeconds * 2000) / 3) {
        this.absorbed++;
        return Promise.resolve(s.ttlSeconds);
      }
      if (s.inFlight) return s.inFlight; // the answer decides; the renewal noted above follows it
    }
    const state: LeaseState = s ?? { ttlSeconds, renewedAt: 0, remaining: 0, lastSeen: now, dirty: false };
    state.lastSeen = now;
    state.dirty = false;
    this.leases.set(leaseId, state);
    return this.renew(leaseId, state);
  }

  /** Forgets a lease (revoked or its endpoint removed). */
  forget(leaseId: string): void {
    this.leases.delete(leaseId);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    this.leases.clear();
  }

  private renew(leaseId: string, s: LeaseState): Promise<number> {
    const sentAt = Date.now();
    this.sent++;
    const p = this.coord.keepAlive(leaseId).then(
      (ttl) => {
        s.inFlight = undefined;
        if (ttl <= 0) this.leases.delete(leaseId);
        else {
          s.renewedAt = sentAt;
          s.remaining = ttl;
        }
        return ttl;
      },
      (e: unknown) => {
        // Unknown state: the next heartbeat asks the backend again.
        s.inFlight = undefined;
        s.remaining = 0;
        throw e;
      },
    );
    s.inFlight = p;
    return p;
  }

  /** The batch tick: runs while some lease has a heartbeat not renewed yet. */
  private arm(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.flush(), this.tickMs);
    this.timer.unref();
  }

  private flush(): void {
    const now = Date.now();
    let waiting = false;
    for (const [id, s] of this.leases) {
      // Retrying (coordination down) past the TTL is pointless: the lease has expired by now, as it would have anyway.
      if (s.dirty && now - s.lastSeen > s.ttlSeconds * 1000) s.dirty = false;
      if (s.dirty && !s.inFlight && (now - s.lastSeen >= this.quietMs || now - s.renewedAt >= (s.ttlSeconds * 1000) / 3)) {
        s.dirty = false;
        this.renew(id, s).catch(() => {
          s.dirty = true; // retried on the next tick: the heartbeat it stands for was answered already
        });
      }
      if (s.dirty || s.inFlight) waiting = true;
      else if (now - s.lastSeen > s.ttlSeconds * 1000) this.leases.delete(id);
    }
    if (!waiting) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
