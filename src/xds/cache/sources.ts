import type { NamedResource } from '../../translate/xds.js';
import { foldAt } from './patched.js';

const NONE: ReadonlyMap<string, never> = new Map<string, never>();

/**
 * What a type snapshot was encoded from, position by position, with each
 * resource's encoding key; `clean` when all of them passed validation. The
 * next build compares its translated list with `list` to re-encode only what
 * changed.
 *
 * It is kept as a `base` array with the resources the EDS fast path replaced
 * since (`delta`), and root keys with the keys replaced since (`keyDelta`),
 * all by name, since every array here has the same names in the same places.
 * So a health flip or a route change records what it replaced, not a copy of
 * every cluster's sources; `list` and `keys` are built on first read (a full
 * build reads them), and the deltas are folded into plain arrays once they
 * pass about 4·√n entries.
 */
export class Sources {
  private builtList?: readonly NamedResource[];
  private builtKeys?: readonly string[];

  private constructor(
    /** The translated array these sources start from. */
    readonly base: readonly NamedResource[],
    private readonly rootKeys: readonly string[],
    private readonly keyDelta: ReadonlyMap<string, string>,
    /** Resources replaced since `base`, by name. */
    readonly delta: ReadonlyMap<string, NamedResource>,
    readonly clean: boolean,
  ) {}

  /** Sources that are exactly `list`, with its keys. */
  static of(list: readonly NamedResource[], keys: readonly string[], clean: boolean): Sources {
    return new Sources(list, keys, NONE, NONE, clean);
  }

  get list(): readonly NamedResource[] {
    if (!this.delta.size) return this.base;
    return (this.builtList ??= this.base.map((r) => this.delta.get(r.name) ?? r));
  }

  get keys(): readonly string[] {
    if (!this.keyDelta.size) return this.rootKeys;
    return (this.builtKeys ??= this.base.map((r, i) => this.keyDelta.get(r.name) ?? this.rootKeys[i]));
  }

  /** The resource at position `i`, without building the list. */
  at(i: number): NamedResource {
    const r = this.base[i];
    return this.delta.get(r.name) ?? r;
  }

  /** These sources with some resources replaced by same-named ones (the EDS fast path). */
  replace(changed: readonly { r: NamedResource; key: string }[], clean: boolean): Sources {
    const delta = new Map(this.delta);
    const keyDelta = new Map(this.keyDelta);
    for (const { r, key } of changed) {
      delta.set(r.name, r);
      keyDelta.set(r.name, key);
    }
    return new Sources(this.base, this.rootKeys, keyDelta, delta, clean).folded();
  }

  /** Sources that are exactly `list` now (same names in the same places), with the keys of the re-encoded names replaced. */
  rebase(list: readonly NamedResource[], keys: ReadonlyMap<string, string>, clean: boolean): Sources {
    const keyDelta = new Map(this.keyDelta);
    for (const [n, k] of keys) keyDelta.set(n, k);
    return new Sources(list, this.rootKeys, keyDelta, NONE, clean).folded();
  }

  private folded(): Sources {
    return this.delta.size + this.keyDelta.size > foldAt(this.base.length) ? Sources.of(this.list, this.keys, this.clean) : this;
  }
}
