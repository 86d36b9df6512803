/**
 * Sets that differ from an earlier one by a few replaced values, without
 * copying it. The EDS fast path replaces one cluster's load assignment in a
 * type snapshot of every cluster (about 30,000 at 10,000 services): copying
 * the map and the list for each health flip was most of its cost, and grew
 * with the catalogue (10 ms per group per flip at 10,000 services).
 *
 * A patched set keeps a plain `root` map and list and one overlay of every
 * value replaced since that root. Each patch copies only the overlay, and the
 * set never points at the set it came from, so a run of flips builds no chain
 * (the earlier sets can be collected, as with the WeakRef derivation). Once the
 * overlay outgrows about 4·√n entries it is folded into a new root: a copy
 * every few hundred flips, instead of one per flip.
 */

import { noteDerived, versionAfter, type Versioned } from './versions.js';

/** A read-only map: `root` with some values replaced. Same keys and order as `root`. */
export class PatchedMap<V> implements ReadonlyMap<string, V> {
  constructor(
    readonly root: ReadonlyMap<string, V>,
    readonly overlay: ReadonlyMap<string, V>,
  ) {}

  get size(): number {
    return this.root.size;
  }

  get(key: string): V | undefined {
    return this.overlay.has(key) ? this.overlay.get(key) : this.root.get(key);
  }

  has(key: string): boolean {
    return this.root.has(key);
  }

  keys(): MapIterator<string> {
    return this.root.keys();
  }

  *values(): MapIterator<V> {
    for (const [k, v] of this.root) yield this.overlay.has(k) ? this.overlay.get(k)! : v;
  }

  *entries(): MapIterator<[string, V]> {
    for (const [k, v] of this.root) yield [k, this.overlay.has(k) ? this.overlay.get(k)! : v];
  }

  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }
}

/** A named set as snapshots and views hold it: a map by name and the same values as a list in name order. */
export interface NamedSet<V extends { name: string }> {
  readonly resources: ReadonlyMap<string, V>;
  readonly list: readonly V[];
}

/** Where a patched set's list comes from: the root's list, with the overlay's values in place. */
const roots = new WeakMap<ReadonlyMap<string, unknown>, readonly unknown[]>();

/** Overlays larger than this are folded into a new root (O(√n) per patch, amortized). */
export const foldAt = (n: number) => 64 + 4 * Math.ceil(Math.sqrt(n));

/**
 * `base` with the values in `replaced`. Every replaced name must be in
 * `base` (names and order stay the same); if one is not, the result is a
 * plain copy, which is always right. The list is built on first read: most
 * patched sets (a health flip's) are only ever read by name. The result holds
 * no reference to `base`.
 */
export function patchSet<V extends { name: string }>(base: NamedSet<V>, replaced: ReadonlyMap<string, V>, version: string): { version: string; resources: ReadonlyMap<string, V>; readonly list: V[] } {
  const patched = base.resources instanceof PatchedMap ? (base.resources as PatchedMap<V>) : undefined;
  const root = patched?.root ?? base.resources;
  const rootList = (patched ? roots.get(root) : base.list) as readonly V[] | undefined;
  const fits = rootList && [...replaced.keys()].every((k) => root.has(k));
  if (!fits || !rootList) {
    const resources = new Map(base.resources);
    for (const [k, v] of replaced) resources.set(k, v);
    return { version, resources, list: [...resources.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
  }
  const overlay = new Map(patched?.overlay ?? []);
  for (const [k, v] of replaced) overlay.set(k, v);
  const list = () => rootList.map((r) => (overlay.has(r.name) ? overlay.get(r.name)! : r));
  if (overlay.size > foldAt(root.size)) {
    const l = list();
    return { version, resources: new Map(l.map((r) => [r.name, r])), list: l };
  }
  const resources = new PatchedMap(root, overlay);
  roots.set(root, rootList);
  let cached: V[] | undefined;
  // Built here, not by the caller: a getter made in the caller's scope would
  // close over its variables (the base set among them) and chain every set to
  // the one before it.
  return {
    version,
    resources,
    get list() {
      return (cached ??= list());
    },
  };
}

/**
 * `base` with the values in `replaced` (names `base` has), versioned in
 * O(changes) and noted as derived from `base`, so the views and diffs of the
 * result cost O(changes) too. Every fast path that replaces contents goes
 * through here.
 */
export function derive<V extends Versioned>(base: NamedSet<V> & { readonly version: string }, replaced: ReadonlyMap<string, V>): { version: string; resources: ReadonlyMap<string, V>; readonly list: V[] } {
  const v = versionAfter(base, [...replaced.keys()].map((n) => base.resources.get(n)!), replaced.values());
  const next = patchSet(base, replaced, v.version);
  v.remember(next);
  noteDerived(next, { from: base, changed: [...replaced.keys()] });
  return next;
}
