import { createHash } from 'node:crypto';

/** What a version is computed over: a named resource with a content hash. */
export interface Versioned {
  name: string;
  hash: string;
}

/** A set of resources that has a version: a type snapshot or a view of one. */
export interface VersionedSet {
  readonly version: string;
  readonly list: readonly Versioned[];
}

/**
 * Versions are an XOR of per-resource digests (sha256 of name and content
 * hash, 128 bits). Equal content gives an equal version on any replica, like a
 * hash over the sorted list, but a change to k resources updates the version in
 * O(k): the EDS fast path does not re-hash a 30,000-resource catalogue.
 */
const digests = new WeakMap<Versioned, Uint32Array>();
const accs = new WeakMap<VersionedSet, Uint32Array>();

function digestOf(r: Versioned): Uint32Array {
  let d = digests.get(r);
  if (!d) {
    const h = createHash('sha256').update(`${r.name}\u0000${r.hash}`).digest();
    d = new Uint32Array(h.buffer.slice(h.byteOffset, h.byteOffset + 16));
    digests.set(r, d);
  }
  return d;
}

const encode = (acc: Uint32Array) => Buffer.from(acc.buffer, acc.byteOffset, 16).toString('base64url');

function fold(resources: Iterable<Versioned>): Uint32Array {
  const acc = new Uint32Array(4);
  for (const r of resources) {
    const d = digestOf(r);
    acc[0] ^= d[0];
    acc[1] ^= d[1];
    acc[2] ^= d[2];
    acc[3] ^= d[3];
  }
  return acc;
}

/** Version of a set of resources (order does not matter). */
export function versionOf(resources: Iterable<Versioned>): string {
  return encode(fold(resources));
}

/** Version of `base` with `removed` taken out and `added` put in, in O(changes); remembered for `next`. */
export function versionAfter(base: VersionedSet, removed: Iterable<Versioned>, added: Iterable<Versioned>): { version: string; remember(next: VersionedSet): void } {
  let b = accs.get(base);
  if (!b) accs.set(base, (b = fold(base.list)));
  const acc = b.slice();
  for (const r of [...removed, ...added]) {
    const d = digestOf(r);
    for (let i = 0; i < 4; i++) acc[i] ^= d[i];
  }
  return { version: encode(acc), remember: (next) => accs.set(next, acc) };
}

/** How a set was derived from an earlier one: only `changed` names were replaced (same names, new content). */
export interface Derivation {
  from: VersionedSet;
  changed: readonly string[];
}

/**
 * `from` is held weakly: a strong reference would chain every set to the one
 * before it, so each EDS fast-path change would keep all earlier snapshots
 * (and their encodings) alive. The shortcut is only useful while something
 * (a stream's held view) still holds `from`, and then it is still there.
 */
const derivations = new WeakMap<VersionedSet, { from: WeakRef<VersionedSet>; changed: readonly string[] }>();

export function noteDerived(next: VersionedSet, d: Derivation): void {
  derivations.set(next, { from: new WeakRef(d.from), changed: d.changed });
}

/** How `set` was derived, while the set it came from is still reachable. */
export function derivationOf(set: VersionedSet): Derivation | undefined {
  const d = derivations.get(set);
  const from = d?.from.deref();
  return d && from ? { from, changed: d.changed } : undefined;
}
