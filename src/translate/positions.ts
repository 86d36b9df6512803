/**
 * Indexes of IR and output arrays by name, built once per array and shared by
 * the copies the fast paths make (the same names in the same places, a few
 * items replaced). Without them each health flip or route change rebuilt a
 * map of every cluster or virtual host, per node group: a cost that grew with
 * the catalogue, not the change. Memos of pure functions of their array: same
 * input, same output.
 */
import type { IrCluster } from './types.js';

/** Where each cluster of an IR is, by name and by service (positions in IR order; the last of a duplicate name, as a Map of them keeps). */
export interface ClusterIndex {
  readonly byName: ReadonlyMap<string, number>;
  readonly byService: ReadonlyMap<string, readonly number[]>;
}

const clusterIndexes = new WeakMap<readonly IrCluster[], ClusterIndex>();
const nameIndexes = new WeakMap<readonly { name: string }[], ReadonlyMap<string, number>>();

/** The index of an IR's clusters. */
export function clusterIndex(clusters: readonly IrCluster[]): ClusterIndex {
  let index = clusterIndexes.get(clusters);
  if (!index) {
    const byName = new Map<string, number>();
    const byService = new Map<string, number[]>();
    clusters.forEach((c, i) => {
      byName.set(c.name, i);
      const own = byService.get(c.service);
      if (own) own.push(i);
      else byService.set(c.service, [i]);
    });
    clusterIndexes.set(clusters, (index = { byName, byService }));
  }
  return index;
}

/** Name → position in `list` (the last of a duplicate name). */
export function positionsByName(list: readonly { name: string }[]): ReadonlyMap<string, number> {
  let at = nameIndexes.get(list);
  if (!at) nameIndexes.set(list, (at = new Map(list.map((x, i) => [x.name, i]))));
  return at;
}

/**
 * `to` has the same names in the same places as `from` (a copy with items
 * replaced by same-named ones): it shares `from`'s indexes. Only a caller that
 * knows this may say so; nothing here checks it.
 */
export function shareIndex<T extends { name: string }>(from: readonly T[], to: readonly T[]): void {
  const c = clusterIndexes.get(from as unknown as readonly IrCluster[]);
  if (c) clusterIndexes.set(to as unknown as readonly IrCluster[], c);
  const n = nameIndexes.get(from);
  if (n) nameIndexes.set(to, n);
}

/** How an array was made from another: a copy with the items at `at` replaced by same-named ones. */
export interface ArrayCopy {
  readonly from: readonly object[];
  readonly at: readonly number[];
}

/**
 * `from` held weakly: a strong one chained every copy to the one before it, so
 * the newest list of a long run of changes kept every superseded resource
 * alive (about 80 KiB per route change at 1,000 services; issue 16, slow
 * proxies scenario). The shortcut only matters while the cache still holds
 * `from` as its last snapshot's list, and then it is still there.
 */
const copies = new WeakMap<readonly object[], { from: WeakRef<readonly object[]>; at: readonly number[] }>();

/**
 * Notes that `to` is a copy of `from` with the items at `at` replaced by
 * same-named ones, so the cache can look at those places only (and shares
 * the name index). Only a caller that knows this may say so.
 */
export function noteCopy<T extends { name: string }>(from: readonly T[], to: readonly T[], at: readonly number[]): void {
  copies.set(to, { from: new WeakRef(from), at });
  shareIndex(from, to);
}

/** How `list` was made, if it was noted as a copy of a list that is still reachable. */
export function copyOf(list: readonly object[]): ArrayCopy | undefined {
  const c = copies.get(list);
  const from = c?.from.deref();
  return c && from ? { from, at: c.at } : undefined;
}
