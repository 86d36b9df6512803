/**
 * What simulated proxies know, shared between them. Thousands of proxies in a
 * worker receive byte-identical responses, so decoding each one per proxy
 * would make the simulator, not the control plane, the bottleneck. Here each
 * distinct response (SotW) or resource (Delta) is decoded once per worker, and
 * the per-type state a proxy holds is an immutable, shared {@link Held} value
 * reached through memoised transitions: a proxy only keeps references.
 */
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { decodeDeltaResponse, decodeResponse, encodeDeltaRequest, encodeRequest } from '../xds-wire.js';
import type { DeltaEnvelope, SotwEnvelope } from './envelope.js';
import type { TypeKey } from './messages.js';

/** What a proxy needs from one decoded resource: its name and the names it refers to. */
export interface Res {
  name: string;
  /** CDS → EDS service names; LDS → route configuration names; RDS → cluster names. */
  refs: readonly string[];
}

/** An interned, sorted set of resource names (a subscription). */
export interface NameSet {
  id: number;
  names: readonly string[];
  set: ReadonlySet<string>;
}

/** Resources of one type held by a proxy. Immutable and shared. */
export interface Held {
  id: number;
  byName: ReadonlyMap<string, Res>;
}

type Json = Record<string, any>;

/** Reduces a decoded resource to what subscriptions follow from it. */
export function summarize(type: TypeKey, r: Json): Res {
  const uniq = (xs: string[]) => [...new Set(xs.filter(Boolean))];
  switch (type) {
    case 'cds': {
      const eds = r.type === 'EDS' || r.eds_cluster_config;
      return { name: r.name, refs: eds ? [r.eds_cluster_config?.service_name || r.name] : [] };
    }
    case 'lds': {
      // Envoy listeners carry the HttpConnectionManager in a filter; proxyless API listeners in api_listener.
      const hcms: Json[] = [];
      for (const fc of r.filter_chains ?? []) for (const f of fc.filters ?? []) if (f.typed_config) hcms.push(f.typed_config);
      if (r.api_listener?.api_listener) hcms.push(r.api_listener.api_listener);
      return { name: r.name, refs: uniq(hcms.map((h) => h.rds?.route_config_name)) };
    }
    case 'rds': {
      const clusters: string[] = [];
      for (const vh of r.virtual_hosts ?? [])
        for (const route of vh.routes ?? []) {
          const a = route.route;
          if (!a) continue;
          if (a.cluster) clusters.push(a.cluster);
          for (const w of a.weighted_clusters?.clusters ?? []) clusters.push(w.name);
        }
      return { name: r.name, refs: uniq(clusters).sort() };
    }
    case 'eds':
      return { name: r.cluster_name, refs: [] };
  }
}

/** Memo maps are dropped wholesale when they grow past this: correctness never depends on a hit. */
const MEMO_LIMIT = 20_000;

class Memo<V> {
  private readonly map = new Map<string, V>();
  get(key: string, make: () => V): V {
    let v = this.map.get(key);
    if (v === undefined) {
      v = make();
      if (this.map.size >= MEMO_LIMIT) this.map.clear();
      this.map.set(key, v);
    }
    return v;
  }
}

/** Per-process decode cache and state store. */
export class StateStore {
  /** Responses seen (envelopes read) and responses whose resources had to be decoded. */
  readonly stats = { responses: 0, decoded: 0 };
  private seq = 1;
  readonly empty: Held = { id: 0, byName: new Map() };
  readonly noNames: NameSet = { id: 0, names: [], set: new Set() };
  private readonly nameSets = new Map<string, NameSet>();
  private readonly sotw = new Memo<{ resources: Res[] }>();
  private readonly deltaRes = new Memo<Res>();
  private readonly transitions = new Memo<Held>();
  private readonly refsOf = new WeakMap<Held, NameSet>();
  private readonly covered = new Memo<boolean>();
  private readonly diffs = new Memo<{ sub: string[]; unsub: string[] }>();
  private readonly bodies = new Memo<Buffer>();

  /** Interns a set of names (sorted, unique). */
  names(list: Iterable<string>): NameSet {
    const names = [...new Set(list)].sort();
    if (!names.length) return this.noNames;
    const key = names.join('\u0000');
    let ns = this.nameSets.get(key);
    if (!ns) {
      if (this.nameSets.size >= MEMO_LIMIT) this.nameSets.clear();
      ns = { id: this.seq++, names, set: new Set(names) };
      this.nameSets.set(key, ns);
    }
    return ns;
  }

  /**
   * The resources of a SotW response, decoded once per (type, version, nonce):
   * Switchyard sends byte-identical responses with one nonce to every stream
   * that gets the same content.
   */
  sotwResources(type: TypeKey, env: SotwEnvelope, buf: Buffer): { key: string; resources: Res[] } {
    this.stats.responses++;
    const key = `${env.typeUrl}\u0000${env.version}\u0000${env.nonce}`;
    const entry = this.sotw.get(key, () => {
      this.stats.decoded++;
      return { resources: decodeResponse(buf).resources.map((a) => summarize(type, decodeResource(a.type_url, a.value))) };
    });
    return { key, resources: entry.resources };
  }

  /**
   * The resources of a Delta response, decoded once per (type, name, resource
   * version). Not per nonce: Switchyard's Delta nonces count per stream, so
   * equal nonces do not mean equal content, while a resource version is a hash
   * of the resource's bytes.
   */
  deltaResources(type: TypeKey, env: DeltaEnvelope, buf: Buffer): Res[] {
    this.stats.responses++;
    let full: ReturnType<typeof decodeDeltaResponse> | undefined;
    return env.resources.map((e, i) =>
      this.deltaRes.get(`${env.typeUrl}\u0000${e.name}\u0000${e.version}`, () => {
        if (!full) {
          this.stats.decoded++;
          full = decodeDeltaResponse(buf);
        }
        const any = full.resources[i].resource;
        return summarize(type, decodeResource(any.type_url, any.value));
      }),
    );
  }

  /** A full-state response (SotW LDS and CDS): the held state is just the response. */
  replace(key: string, resources: Res[]): Held {
    return this.transitions.get(`r\u0000${key}`, () => ({ id: this.seq++, byName: new Map(resources.map((r) => [r.name, r])) }));
  }

  /** A SotW EDS/RDS response may carry only some of the subscribed resources: keep the others. */
  merge(prev: Held, key: string, resources: Res[]): Held {
    return this.transitions.get(`${prev.id}\u0000m\u0000${key}`, () => {
      const byName = new Map(prev.byName);
      for (const r of resources) byName.set(r.name, r);
      return { id: this.seq++, byName };
    });
  }

  /** Applies a Delta response: changed resources replace, removed ones go. */
  applyDelta(prev: Held, env: DeltaEnvelope, resources: Res[]): Held {
    // The key names every resource version and removal, so equal keys mean equal content.
    const sig = `${env.typeUrl}\u0001${env.resources.map((e) => `${e.name}\u0000${e.version}`).join('\u0001')}\u0002${env.removed.join('\u0001')}`;
    return this.transitions.get(`${prev.id}\u0000d\u0000${sig}`, () => {
      const byName = new Map(prev.byName);
      for (const r of resources) byName.set(r.name, r);
      for (const n of env.removed) byName.delete(n);
      return { id: this.seq++, byName };
    });
  }

  /** Drops what is no longer subscribed. */
  prune(prev: Held, names: NameSet): Held {
    return this.transitions.get(`${prev.id}\u0000p\u0000${names.id}`, () => {
      if ([...prev.byName.keys()].every((n) => names.set.has(n))) return prev;
      return { id: this.seq++, byName: new Map([...prev.byName].filter(([n]) => names.set.has(n))) };
    });
  }

  /** The names the held resources refer to (the next type's subscription). */
  refs(held: Held): NameSet {
    let ns = this.refsOf.get(held);
    if (!ns) {
      const all: string[] = [];
      for (const r of held.byName.values()) all.push(...r.refs);
      ns = this.names(all);
      this.refsOf.set(held, ns);
    }
    return ns;
  }

  /** Whether every subscribed name is held. */
  covers(held: Held, names: NameSet): boolean {
    if (!names.names.length) return true;
    return this.covered.get(`${held.id}\u0000${names.id}`, () => names.names.every((n) => held.byName.has(n)));
  }

  /** Delta subscription change from `from` to `to`. */
  diff(from: NameSet, to: NameSet): { sub: string[]; unsub: string[] } {
    return this.diffs.get(`${from.id}\u0000${to.id}`, () => ({
      sub: to.names.filter((n) => !from.set.has(n)),
      unsub: from.names.filter((n) => !to.set.has(n)),
    }));
  }

  /**
   * A SotW request without its node, encoded once and shared: the proxy
   * prepends its own encoded node (protobuf concatenation merges messages).
   */
  sotwBody(typeUrl: string, version: string, nonce: string, names: NameSet): Buffer {
    return this.bodies.get(`${typeUrl}\u0000${version}\u0000${nonce}\u0000${names.id}`, () =>
      encodeRequest({ version_info: version, resource_names: [...names.names], type_url: typeUrl, response_nonce: nonce }),
    );
  }

  /** A Delta subscription request without node, encoded once per distinct change. */
  deltaSubscribeBody(typeUrl: string, from: NameSet, to: NameSet): Buffer {
    return this.bodies.get(`ds\u0000${typeUrl}\u0000${from.id}\u0000${to.id}`, () => {
      const d = this.diff(from, to);
      return encodeDeltaRequest({ type_url: typeUrl, resource_names_subscribe: d.sub, resource_names_unsubscribe: d.unsub });
    });
  }
}
