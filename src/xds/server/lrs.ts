import type * as grpc from '@grpc/grpc-js';
import { envoyRoot } from '../cache/envoy-protos.js';

/** Calls one cluster completed in one second, summed over every client that reported them. */
export interface LoadBucket {
  /** Epoch second. */
  second: number;
  issued: number;
  succeeded: number;
  errored: number;
  dropped: number;
}

/** Totals over a time range. */
export interface LoadTotals {
  issued: number;
  succeeded: number;
  errored: number;
  dropped: number;
  /** Streams that reported into the range. */
  reporters: number;
}

const KEEP_SECONDS = 600;

/**
 * What the clients of this replica reported over LRS, per cluster, in
 * one-second buckets (the last ten minutes). grpc-js-xds and Envoy report
 * deltas (counters reset per report), so a report is added to the bucket of
 * the second it arrived in.
 */
export class LoadReports {
  private readonly byCluster = new Map<string, LoadBucket[]>();
  private readonly reporters = new Map<string, Map<number, Set<number>>>();
  /** Reports received since start (a metric). */
  received = 0;

  add(cluster: string, stream: number, at: number, d: Omit<LoadBucket, 'second'>): void {
    this.received++;
    const second = Math.floor(at / 1000);
    let list = this.byCluster.get(cluster);
    if (!list) this.byCluster.set(cluster, (list = []));
    let b = list[list.length - 1];
    if (!b || b.second !== second) list.push((b = { second, issued: 0, succeeded: 0, errored: 0, dropped: 0 }));
    b.issued += d.issued;
    b.succeeded += d.succeeded;
    b.errored += d.errored;
    b.dropped += d.dropped;
    while (list.length && list[0].second < second - KEEP_SECONDS) list.shift();
    let r = this.reporters.get(cluster);
    if (!r) this.reporters.set(cluster, (r = new Map()));
    if (!r.has(second)) r.set(second, new Set());
    r.get(second)!.add(stream);
    for (const s of r.keys()) if (s < second - KEEP_SECONDS) r.delete(s);
  }

  /** Totals for a cluster over [fromMs, toMs). */
  totals(cluster: string, fromMs: number, toMs: number): LoadTotals {
    return sum(this.buckets(cluster, fromMs, toMs), this.reporterCount(cluster, fromMs, toMs));
  }

  /** The buckets of a cluster over [fromMs, toMs) (for publishing to other replicas). */
  buckets(cluster: string, fromMs: number, toMs: number): LoadBucket[] {
    const from = Math.floor(fromMs / 1000);
    const to = Math.floor(toMs / 1000);
    return (this.byCluster.get(cluster) ?? []).filter((b) => b.second >= from && b.second < to);
  }

  /** Clusters with a report since `sinceMs`. */
  clusters(sinceMs: number): string[] {
    const since = Math.floor(sinceMs / 1000);
    return [...this.byCluster.entries()].filter(([, l]) => l.length && l[l.length - 1].second >= since).map(([c]) => c);
  }

  private reporterCount(cluster: string, fromMs: number, toMs: number): number {
    const set = new Set<number>();
    for (const [s, streams] of this.reporters.get(cluster) ?? []) if (s >= Math.floor(fromMs / 1000) && s < Math.floor(toMs / 1000)) for (const x of streams) set.add(x);
    return set.size;
  }
}

/** Adds up buckets. */
export function sum(buckets: Iterable<LoadBucket>, reporters = 0): LoadTotals {
  const t: LoadTotals = { issued: 0, succeeded: 0, errored: 0, dropped: 0, reporters };
  for (const b of buckets) {
    t.issued += b.issued;
    t.succeeded += b.succeeded;
    t.errored += b.errored;
    t.dropped += b.dropped;
  }
  return t;
}

export const LRS_SERVICE = 'envoy.service.load_stats.v3.LoadReportingService';

/** How often clients are asked to report (they report deltas at this pace). */
export const LRS_INTERVAL_MS = 1000;

let seq = 0;

/**
 * One LRS stream (envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats).
 * The first request names the node; the answer asks for every cluster
 * (send_all_clusters: grpc-js-xds skips the first named cluster otherwise)
 * once a second. Every later request carries one report per cluster.
 */
export function serveLoadStats(call: grpc.ServerDuplexStream<Buffer, Buffer>, reports: LoadReports): void {
  const stream = ++seq;
  const root = envoyRoot();
  const Req = root.lookupType('envoy.service.load_stats.v3.LoadStatsRequest');
  const Res = root.lookupType('envoy.service.load_stats.v3.LoadStatsResponse');
  let answered = false;
  call.on('data', (buf: Buffer) => {
    let req: { cluster_stats?: ClusterStats[] };
    try {
      req = Req.toObject(Req.decode(buf), { longs: Number, defaults: false }) as { cluster_stats?: ClusterStats[] };
    } catch {
      return; // a malformed report counts for nothing
    }
    if (!answered) {
      answered = true;
      call.write(Buffer.from(Res.encode(Res.fromObject({ send_all_clusters: true, load_reporting_interval: { seconds: 0, nanos: LRS_INTERVAL_MS * 1_000_000 } })).finish()));
    }
    const now = Date.now();
    for (const cs of req.cluster_stats ?? []) {
      let succeeded = 0;
      let errored = 0;
      let issued = 0;
      for (const l of cs.upstream_locality_stats ?? []) {
        succeeded += l.total_successful_requests ?? 0;
        errored += l.total_error_requests ?? 0;
        issued += l.total_issued_requests ?? 0;
      }
      if (cs.cluster_name) reports.add(cs.cluster_name, stream, now, { issued, succeeded, errored, dropped: cs.total_dropped_requests ?? 0 });
    }
  });
  call.on('end', () => call.end());
  call.on('error', () => undefined);
}

interface ClusterStats {
  cluster_name?: string;
  total_dropped_requests?: number;
  upstream_locality_stats?: { total_successful_requests?: number; total_error_requests?: number; total_issued_requests?: number }[];
}

