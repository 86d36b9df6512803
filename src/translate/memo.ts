import type { PolicySpec, Resource, RouteSpec, ServiceSpec } from '../model/resources.js';
import type { PolicyPlugin } from './plugin.js';
import type { TranslationIssue } from './types.js';

/**
 * What one IR build leaves for the next, so that a change re-translates only
 * the sources it touched. Each entry is keyed by the identity of everything it
 * was computed from (resource objects, which the registry mirror replaces on
 * every change and never mutates, plus a few flags). A build given a memo
 * returns exactly what a build without one returns: the memo only skips work
 * whose inputs are the same objects as last time
 * (test/unit/incremental-translation.test.ts checks this against full rebuilds).
 */
export class IrMemo {
  /** Per service: its clusters and endpoint issues. */
  readonly services = new Generation<unknown>();
  /** Per Route: its virtual host and the issues its backends raised. */
  readonly routes = new Generation<unknown>();
  private plugins?: readonly unknown[];
  /** Per kind, each name's place in the last build's sorted order. */
  private readonly ranks = new Map<string, Map<string, number>>();

  /**
   * `list` sorted by name (names are unique within a kind). When every name
   * was in the last build, this places each one at its old rank instead of
   * comparing strings: the registry mirror hands resources over in insertion
   * order, and sorting a thousand names on every build showed in profiles.
   */
  sortByName<T extends { name: string }>(kind: string, list: T[]): T[] {
    const rank = this.ranks.get(kind);
    if (rank) {
      const slots: (T | undefined)[] = new Array(rank.size);
      let ok = true;
      for (const r of list) {
        const i = rank.get(r.name);
        if (i === undefined || slots[i] !== undefined) {
          ok = false;
          break;
        }
        slots[i] = r;
      }
      if (ok) return slots.filter((r): r is T => r !== undefined);
    }
    const sorted = list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.ranks.set(kind, new Map(sorted.map((r, i) => [r.name, i])));
    return sorted;
  }

  /** Starts a build; a memo filled with other plugins starts over. */
  begin(plugins: readonly unknown[]): void {
    if (this.plugins !== plugins) {
      this.services.clear();
      this.routes.clear();
      this.ranks.clear();
      this.last = undefined;
      this.plugins = plugins;
    }
  }

  /** What the last full build left for patchRoutes. */
  private last?: LastBuild;

  /** Ends a build: entries the build did not use are dropped, so the memo follows the registry, not its history. */
  end(last: LastBuild): void {
    this.services.commit();
    this.routes.commit();
    this.last = last;
  }

  /** The last full build's parts, if it was made with these plugins. */
  lastBuild(plugins: readonly unknown[]): LastBuild | undefined {
    return this.last && this.last.plugins === plugins ? this.last : undefined;
  }

  /** Entries kept and computed by the last build (for tests and metrics). */
  stats(): { services: { hits: number; misses: number }; routes: { hits: number; misses: number } } {
    return { services: this.services.counts(), routes: this.routes.counts() };
  }
}

/** One kind of memo entry: the current build's entries replace the previous build's at commit. */
export class Generation<T> {
  private previous = new Map<string, { key: readonly unknown[]; value: T }>();
  private current = new Map<string, { key: readonly unknown[]; value: T }>();
  private hits = 0;
  private misses = 0;

  /** The value stored under `name` by the previous build if its key is element-wise identical, else `compute()`. */
  get<V extends T>(name: string, key: readonly unknown[], compute: () => V): V {
    const old = this.previous.get(name);
    if (old && sameKey(old.key, key)) {
      this.hits++;
      this.current.set(name, old);
      return old.value as V;
    }
    this.misses++;
    const value = compute();
    this.current.set(name, { key, value });
    return value;
  }

  /** Replaces an entry of the last build (a fast path computed it again). */
  replace(name: string, key: readonly unknown[], value: T): void {
    this.previous.set(name, { key, value });
  }

  /** The last build's value for `name`. */
  peek<V extends T>(name: string): V | undefined {
    return this.previous.get(name)?.value as V | undefined;
  }

  commit(): void {
    this.previous = this.current;
    this.current = new Map();
    this.lastCounts = { hits: this.hits, misses: this.misses };
    this.hits = this.misses = 0;
  }

  clear(): void {
    this.previous.clear();
    this.current.clear();
  }

  private lastCounts = { hits: 0, misses: 0 };

  counts(): { hits: number; misses: number } {
    return this.lastCounts;
  }
}

function sameKey(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/** One Route as the last full build saw it: its object, the hosts it owns (in host order), the issues about its hosts, and where its virtual host is. */
export interface RoutePart {
  route: Resource<RouteSpec>;
  domains: string[];
  hostIssues: TranslationIssue[];
  /** Index in IR.virtualHosts; undefined when it owns no host. */
  vh?: number;
}

/** What patchRoutes needs from the last full build (kept in its IrMemo). */
export interface LastBuild {
  plugins: readonly PolicyPlugin[];
  policies: Map<string, Resource<PolicySpec>>;
  services: Map<string, Resource<ServiceSpec>>;
  order: RoutePart[];
  index: Map<string, number>;
  listenerIssues: TranslationIssue[];
  resolverIssues: TranslationIssue[];
}

