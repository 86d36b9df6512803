import type { EncodedResource, TypeSnapshot } from '../cache/cache.js';
import { derive } from '../cache/patched.js';
import { derivationOf, versionOf } from '../cache/versions.js';

/**
 * Shared per-stream state for large fleets. Thousands of streams in one node
 * group ask for the same names and hold the same versions, so everything a
 * stream needs beyond a few pointers (its subscription, the view of a snapshot
 * through it, the difference between two views, the bytes of a response) is
 * interned or memoized here and shared. A stream's own memory is then
 * independent of the catalogue's size.
 */

/** A set of subscribed names (or a wildcard), interned: equal subscriptions are the same object. */
export interface Subscription {
  readonly key: string;
  readonly wildcard: boolean;
  /** Subscribed names, sorted, without '*'. */
  readonly names: readonly string[];
  /** Raw encodings of `resource_names` known to mean this subscription, so an ACK is matched by memcmp, not decoded. */
  readonly raws: Buffer[];
  refs: number;
}

/** What a client sees of one type through a subscription: a TypeSnapshot-shaped, shared object. */
export interface View {
  readonly version: string;
  readonly resources: ReadonlyMap<string, EncodedResource>;
  /** Sorted by name. */
  readonly list: EncodedResource[];
}

/** The resources to send to move a client from one view to another. */
export interface ViewDiff {
  readonly changed: EncodedResource[];
  /** Names held before and absent now, sorted. */
  readonly removed: string[];
}

/** Interning table for subscriptions, reference-counted so a departed fleet leaves nothing behind. */
export class Subscriptions {
  private readonly table = new Map<string, Subscription>();

  /** The interned subscription for `names` (with '*' meaning wildcard); the caller holds one reference. */
  intern(names: readonly string[], wildcardByDefault: boolean, raw?: Buffer): Subscription {
    const explicit = names.filter((n) => n !== '*');
    const wildcard = names.includes('*') || (explicit.length === 0 && wildcardByDefault);
    const sorted = [...new Set(explicit)].sort();
    const key = `${wildcard ? '*' : ''}\u0001${sorted.join('\u0001')}`;
    let sub = this.table.get(key);
    if (!sub) {
      sub = { key, wildcard, names: sorted, raws: [], refs: 0 };
      this.table.set(key, sub);
    }
    // A few encodings per subscription (clients may order names differently); beyond that, decode.
    if (raw && sub.raws.length < 4 && !sub.raws.some((r) => r.equals(raw))) sub.raws.push(Buffer.from(raw));
    sub.refs++;
    return sub;
  }

  release(sub: Subscription | undefined): void {
    if (sub && --sub.refs <= 0) this.table.delete(sub.key);
  }

  get size(): number {
    return this.table.size;
  }
}

/** True when `raw` (a request's encoded resource_names) is known to mean `sub`. */
export function sameRaw(sub: Subscription | undefined, raw: Buffer): boolean {
  if (!sub) return false;
  for (const r of sub.raws) if (r.equals(raw)) return true;
  return false;
}

const views = new WeakMap<TypeSnapshot, WeakMap<Subscription, View>>();

/** The view of `ts` through `sub`, computed once per (snapshot, subscription) and shared by every stream. */
export function viewOf(ts: TypeSnapshot, sub: Subscription): View {
  if (sub.wildcard) return ts;
  let bySub = views.get(ts);
  if (!bySub) views.set(ts, (bySub = new WeakMap()));
  let v = bySub.get(sub);
  if (!v && (v = derivedView(ts, sub))) bySub.set(sub, v);
  if (!v) {
    const resources = new Map<string, EncodedResource>();
    for (const n of sub.names) {
      const r = ts.resources.get(n);
      if (r) resources.set(n, r);
    }
    const list = [...resources.values()];
    v = { version: versionOf(list), resources, list };
    bySub.set(sub, v);
  }
  return v;
}

const nameSets = new WeakMap<Subscription, Set<string>>();

/**
 * The view of a snapshot derived from an earlier one (the EDS fast path) via
 * the view of that earlier one: patch the replaced names instead of looking up
 * every subscribed name again, so a change costs O(changed), not O(subscription).
 */
function derivedView(ts: TypeSnapshot, sub: Subscription): View | undefined {
  const d = derivationOf(ts);
  const prev = d && views.get(d.from as TypeSnapshot)?.get(sub);
  if (!d || !prev) return undefined;
  let names = nameSets.get(sub);
  if (!names) nameSets.set(sub, (names = new Set(sub.names)));
  const replaced = new Map<string, EncodedResource>();
  for (const n of d.changed) {
    const r = ts.resources.get(n);
    if (names.has(n) && r && prev.resources.has(n)) replaced.set(n, r);
  }
  if (!replaced.size) return prev;
  // Shares prev's unchanged part (an Envoy group's view names every cluster): O(√n) per change, not a copy.
  return derive(prev, replaced);
}

const diffs = new WeakMap<View, WeakMap<View, ViewDiff>>();
const FULL = new WeakMap<View, ViewDiff>();

/** Resources to move a client holding `from` (nothing, if undefined) to `to`; memoized per pair. */
export function diffOf(from: View | undefined, to: View): ViewDiff {
  if (!from) {
    let d = FULL.get(to);
    if (!d) FULL.set(to, (d = { changed: to.list, removed: [] }));
    return d;
  }
  let byTo = diffs.get(from);
  if (!byTo) diffs.set(from, (byTo = new WeakMap()));
  let d = byTo.get(to);
  const derived = d ? undefined : derivationOf(to);
  if (!d && derived?.from === from) {
    // `to` replaced a few resources of `from`: the difference is those, found without a scan.
    const changed = derived.changed.map((n) => to.resources.get(n)!).filter((r) => r && from.resources.get(r.name)?.hash !== r.hash);
    d = { changed: changed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)), removed: [] };
    byTo.set(to, d);
  }
  if (!d) {
    const changed = to.list.filter((r) => from.resources.get(r.name)?.hash !== r.hash);
    const removed: string[] = [];
    for (const n of from.resources.keys()) if (!to.resources.has(n)) removed.push(n);
    d = { changed, removed: removed.sort() };
    byTo.set(to, d);
  }
  return d;
}

const unions = new WeakMap<View, WeakMap<View, View>>();

/** `view` plus whatever `held` has that `view` lacks: removals wait until routes stop using them (make before break). */
export function keepRemoved(held: View | undefined, view: View): View {
  if (!held) return view;
  let byView = unions.get(held);
  if (!byView) unions.set(held, (byView = new WeakMap()));
  let u = byView.get(view);
  if (!u) {
    const gone = held.list.filter((r) => !view.resources.has(r.name));
    if (!gone.length) u = view;
    else {
      const list = [...view.list, ...gone].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      u = { version: versionOf(list), resources: new Map(list.map((r) => [r.name, r])), list };
    }
    byView.set(view, u);
  }
  return u;
}
