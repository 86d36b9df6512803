import { createHook } from 'node:async_hooks';

const RETENTION_MS = 15 * 60 * 1000;

/**
 * grpc-js-xds 1.14.1's priority policy keeps a priority it stops using for
 * 15 minutes (gRFC A56 child retention) on a ref'd timer that destroy() never
 * clears. After a locality failover, a test process whose channels are all
 * closed would therefore stay alive for 15 minutes. This records those timers
 * (15 min, created by load-balancer-priority) from now on; release(), once
 * every channel is closed, unrefs them so the process can exit. It changes
 * nothing while the channels are in use.
 */
export function trackPriorityRetentionTimers(): { release(): number } {
  const timers = new Set<NodeJS.Timeout>();
  const hook = createHook({
    init(_id, type, _trigger, resource) {
      if (type !== 'Timeout' || (resource as { _idleTimeout?: number })._idleTimeout !== RETENTION_MS) return;
      if (/load-balancer-priority/.test(new Error().stack ?? '')) timers.add(resource as NodeJS.Timeout);
    },
  }).enable();
  return {
    release() {
      hook.disable();
      let n = 0;
      for (const t of timers) {
        if (t.hasRef()) n++;
        t.unref();
      }
      timers.clear();
      return n;
    },
  };
}
