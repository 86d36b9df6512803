import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { PUSH_ORDER, TYPE, type TypeUrl } from '../../translate/envoy-types.js';
import type { PolicyPlugin } from '../../translate/plugin.js';
import { groupKey, type IR, type NodeGroup, type Owner, type TranslationIssue } from '../../translate/types.js';
import { clusterIndex, copyOf, positionsByName } from '../../translate/positions.js';
import { edsResource, GroupMemo, type GroupResources, type NamedResource, translateGroup } from '../../translate/xds.js';
import { encodeResource } from './envoy-protos.js';
import { type PgvViolation, validateEncoded } from './pgv.js';
import { derive } from './patched.js';
import { RouteConfigEncoder } from './route-encoding.js';
import { Sources } from './sources.js';
import { versionOf } from './versions.js';

export { versionOf } from './versions.js';

/** One resource, encoded once as a google.protobuf.Any and shared by every stream and group. */
export interface EncodedResource {
  name: string;
  /** Content hash: the per-resource version (Delta). */
  hash: string;
  /** Encoded google.protobuf.Any. */
  any: Uint8Array;
  /** The resource as JSON, for config dumps. */
  json: Record<string, unknown>;
  owner: Owner;
  needs?: string[];
  /** Broken PGV rules; a resource with any is never published. */
  violations: PgvViolation[];
}

export interface TypeSnapshot {
  /** Content hash of the whole type: the SotW version. */
  version: string;
  /** Read-only: the EDS fast path shares the unchanged part between snapshots (patched.ts). */
  resources: ReadonlyMap<string, EncodedResource>;
  /** The same resources as one shared array, sorted by name. */
  list: EncodedResource[];
}

/** What one node group should hold at one registry revision. */
export interface GroupSnapshot {
  key: string;
  group: NodeGroup;
  revision: number;
  types: Record<TypeUrl, TypeSnapshot>;
  issues: TranslationIssue[];
  /** When this snapshot was published (ms since epoch), for push-latency metrics. */
  publishedAt: number;
}

/** The phases of one publish, in order (see SnapshotCache.setIR). */
export type CachePhase = 'translate' | 'validate' | 'publish';

/** Runs one phase of a publish: the publisher wraps each in a trace span. */
export type PhaseRunner = <T>(phase: CachePhase, fn: () => T, ir: IR) => T;

/** One group's new EDS load assignments, translated but not encoded yet. */
type Assignment = { name: string; resource: NamedResource; issues: TranslationIssue[] };

/** What the translate phase hands the validate phase: a full build of every group, or the EDS fast path. */
type Translated = {
  ir: IR;
  full?: { key: string; old: GroupSnapshot; out: { resources: GroupResources; issues: TranslationIssue[] } }[];
  eds?: { clusters: string[]; groups: { key: string; old: GroupSnapshot; assignments: Assignment[] }[] };
  /** Groups asked for before the first IR. */
  waiting: { group: NodeGroup; out: { resources: GroupResources; issues: TranslationIssue[] } }[];
};

/** What the xDS server needs from the cache, and nothing more. */
export interface XdsCache {
  /** The current snapshot for a group, computed on first use. */
  snapshot(group: NodeGroup): GroupSnapshot | undefined;
  /** Called with every group snapshot whose content changed. */
  onUpdate(fn: (snap: GroupSnapshot) => void): () => void;
  /** Drops a group no client uses any more; asked for again, it is rebuilt with the same versions for the same content. */
  forget(group: NodeGroup): void;
  /** The groups built (some client asked for each). */
  knownGroups(): NodeGroup[];
}

export const sha = (s: string | Uint8Array) => createHash('sha256').update(s).digest('base64url').slice(0, 22);

function encodeAny(typeUrl: string, value: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32(10).string(typeUrl).uint32(18).bytes(value).finish();
}

/**
 * Key characters superseded encodings may add before a prune (each also holds
 * the JSON object it stands for): a quarter of the live ones, at least 1 Mi.
 * A prune walks every live encoding, so this keeps its cost per change
 * constant while memory stays within 1.25 × the catalogue's.
 */
const pruneSlackChars = (live: number) => Math.max(2 ** 20, live / 4);

/**
 * Snapshot cache fed with IRs. Resources are encoded once per distinct content
 * (keyed by a hash of their JSON) and reused across rebuilds and groups.
 */
export class SnapshotCache implements XdsCache {
  private ir?: IR;
  private readonly groups = new Map<string, GroupSnapshot>();
  /** Groups asked for before the first IR: built and announced when it arrives. */
  private readonly waiting = new Map<string, NodeGroup>();

  /**
   * `plugins` are the policy plugins translation applies (src/policies registers them).
   * With `incremental: false` every build renders and serializes every resource again:
   * the oracle the incremental path is checked against, and the "before" of the benchmarks.
   */
  constructor(
    private readonly plugins: readonly PolicyPlugin[],
    private readonly options: { incremental?: boolean } = {},
  ) {}
  private readonly listeners = new Set<(snap: GroupSnapshot) => void>();
  private readonly newGroupListeners = new Set<(snap: GroupSnapshot) => void>();
  private readonly forgetListeners = new Set<(group: NodeGroup) => void>();
  private encoded = new Map<string, EncodedResource>();
  /**
   * Characters of the keys in `encoded` (each key is the resource's JSON, so
   * about its size), and of those in use at the last prune: a count bound
   * alone let a 1,000-route catalogue keep thousands of superseded
   * RouteConfigurations of ~80 KiB each (issue 16, slow proxies scenario).
   */
  private keyChars = 0;
  private liveKeyChars = 0;
  /** Encodings by resource object: a render reused from a group's memo is not serialized again to find its encoding. */
  private readonly byObject = new WeakMap<object, { key: string; enc: EncodedResource }>();
  /**
   * The translated resource objects each type snapshot was encoded from, and
   * whether all of them passed validation: a type whose translation hands back
   * the same objects is the same snapshot, with nothing to encode, hash or report.
   */
  private readonly sources = new WeakMap<TypeSnapshot, Sources>();
  /** Virtual hosts' encodings, by render: a route change encodes and checks only the virtual host it changed. */
  private readonly routes = new RouteConfigEncoder();
  /** Per group: its renders of the last build, so a change re-renders only what it touched. */
  private readonly memos = new Map<string, GroupMemo>();

  /** How many distinct encodings the cache keeps for reuse (tests check that it follows the catalogue, not its history). */
  get encodingCount(): number {
    return this.encoded.size;
  }

  /** Characters of the retained encodings' keys (their JSON): tests check it follows the catalogue, not its history. */
  get encodingKeyChars(): number {
    return this.keyChars;
  }

  /** The IR the cache currently serves. */
  get current(): IR | undefined {
    return this.ir;
  }

  onUpdate(fn: (snap: GroupSnapshot) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  snapshot(group: NodeGroup): GroupSnapshot | undefined {
    const key = groupKey(group);
    if (!this.ir) {
      this.waiting.set(key, group);
      return undefined;
    }
    let snap = this.groups.get(key);
    if (!snap) {
      snap = this.build(group, this.ir);
      this.groups.set(key, snap);
      // Its issues (what this group's clients cannot honour) are new too: tell the status writer, outside this call.
      const built = snap;
      queueMicrotask(() => {
        for (const fn of this.newGroupListeners) fn(built);
      });
    }
    return snap;
  }

  /** Called when a group is built for the first time by a client asking for it (not by setIR). */
  onNewGroup(fn: (snap: GroupSnapshot) => void): () => void {
    this.newGroupListeners.add(fn);
    return () => this.newGroupListeners.delete(fn);
  }

  /**
   * Drops a group's snapshot and memo. Without this every node.cluster or
   * locality a client ever sent stays built forever, and every rebuild
   * translates it again: memory and CPU a client could grow at will.
   */
  forget(group: NodeGroup): void {
    const key = groupKey(group);
    this.waiting.delete(key);
    this.memos.delete(key);
    if (!this.groups.delete(key)) return;
    queueMicrotask(() => {
      for (const fn of this.forgetListeners) fn(group);
    });
  }

  /** Called when a group was forgotten (its issues no longer apply to anyone). */
  onForgetGroup(fn: (group: NodeGroup) => void): () => void {
    this.forgetListeners.add(fn);
    return () => this.forgetListeners.delete(fn);
  }

  /** Known groups (those some client asked for). */
  knownGroups(): NodeGroup[] {
    return [...this.groups.values()].map((g) => g.group);
  }

  /**
   * Publishes a new IR: rebuilds every known group and notifies those whose content changed.
   * With `edsOnly`, only the named clusters' endpoints changed: the EDS fast path
   * recomputes just those load assignments and reuses everything else.
   * It runs in three phases, each through `run` (the publisher traces them):
   * translate every group, encode and validate (PGV rules, consistency), then
   * publish (swap the snapshots in and push). All synchronous: nothing reads
   * the cache between them.
   */
  setIR(ir: IR, edsOnly?: Set<string>, run: PhaseRunner = (_phase, fn) => fn()): GroupSnapshot[] {
    const translated = run('translate', () => this.translateAll(ir, edsOnly), ir);
    const next = run('validate', () => this.validateAll(translated), ir);
    return run('publish', () => this.publishAll(ir, next), ir);
  }

  /** Phase 1: what every known (and waiting) group gets from `ir`, before encoding. */
  private translateAll(ir: IR, edsOnly?: Set<string>): Translated {
    const waiting = [...this.waiting.values()].map((group) => ({ group, out: translateGroup(ir, group, this.plugins, this.memoOf(group)) }));
    if (edsOnly) {
      // In IR order, found through the index (not a scan of every cluster).
      const index = clusterIndex(ir.clusters);
      const at = [...edsOnly].flatMap((n) => index.byName.get(n) ?? []).sort((a, b) => a - b);
      const byName = new Map(at.map((i) => [ir.clusters[i].name, ir.clusters[i]]));
      const groups = [...this.groups.entries()].map(([key, old]) => {
        const eds = old.types[TYPE.endpoint];
        // Only clusters the group already has: a new cluster comes with a full build.
        const assignments = [...byName].filter(([name]) => eds.resources.has(name)).map(([name, c]) => ({ name, ...edsResource(c, old.group, this.plugins) }));
        return { key, old, assignments };
      });
      return { ir, eds: { clusters: [...byName.keys()], groups }, waiting };
    }
    const groups = [...this.groups.entries()].map(([key, old]) => ({ key, old, out: translateGroup(ir, old.group, this.plugins, this.memoOf(old.group)) }));
    return { ir, full: groups, waiting };
  }

  /** Phase 2: encodes and validates each group's resources; a group failing a check keeps its last good snapshot. */
  private validateAll(t: Translated): { key: string; snap: GroupSnapshot; changed: boolean }[] {
    const out: { key: string; snap: GroupSnapshot; changed: boolean }[] = [];
    if (t.eds) {
      const names = t.eds.clusters;
      for (const { key, old, assignments } of t.eds.groups) {
        const eds = old.types[TYPE.endpoint];
        // Drop only the EDS problems of the clusters being recomputed; the rest still hold.
        const issues: TranslationIssue[] = old.issues.filter((i) => !(i.message.startsWith('ClusterLoadAssignment ') && names.some((n) => i.message.startsWith(`ClusterLoadAssignment ${n} `))));
        // O(changed) apart from two shallow copies: names stay the same, only contents are replaced.
        const replaced = new Map<string, EncodedResource>();
        for (const one of assignments) {
          const prev = eds.resources.get(one.name)!;
          issues.push(...one.issues);
          const enc = this.encodeOne(TYPE.endpoint, one.resource, issues, prev);
          if (enc && enc !== prev) replaced.set(one.name, enc);
        }
        let endpoints = eds;
        if (replaced.size) {
          // No copy of the whole type: the patched set shares eds's unchanged part (O(√n) per flip, not O(n)).
          endpoints = derive(eds, replaced);
          this.deriveSources(eds, endpoints, assignments.filter((a) => replaced.has(a.name)).map((a) => a.resource));
        }
        const snap: GroupSnapshot = { ...old, revision: t.ir.revision, issues: unique(issues), publishedAt: Date.now(), types: { ...old.types, [TYPE.endpoint]: endpoints } };
        out.push({ key, snap, changed: endpoints.version !== eds.version });
      }
    } else {
      // Full rebuilds collect what they use, and drop the rest (incremental ones prune in publishAll).
      const used = this.options.incremental === false ? new Map<string, EncodedResource>() : undefined;
      for (const { key, old, out: translated } of t.full ?? []) {
        const snap = this.snapshotOf(old.group, t.ir, translated, used);
        out.push({ key, snap, changed: PUSH_ORDER.some((type) => snap.types[type].version !== old.types[type].version) });
      }
      // Drop encodings no group uses any more, so memory follows the catalogue, not its history.
      if (used && this.groups.size) this.keepEncodings(used);
    }
    for (const { group, out: translated } of t.waiting) out.push({ key: groupKey(group), snap: this.snapshotOf(group, t.ir, translated), changed: true });
    return out;
  }

  /**
   * Sources of an EDS snapshot the fast path derived from `from` by replacing
   * `changed` (so the next full build can still reuse it). Built lazily from
   * the root's arrays and the replaced entries: a health flip does not copy
   * the sources of every cluster (only a full build reads them).
   */
  private deriveSources(from: TypeSnapshot, next: TypeSnapshot, changed: NamedResource[]): void {
    const before = this.sources.get(from);
    if (!before) return;
    const clean = before.clean && changed.every((r) => this.byObject.get(r.resource) && !this.byObject.get(r.resource)!.enc.violations.length);
    this.sources.set(next, before.replace(changed.map((r) => ({ r, key: this.byObject.get(r.resource)?.key ?? '' })), clean));
  }

  /** Phase 3: serves the new snapshots and tells the listeners (the xDS server pushes from here). */
  private publishAll(ir: IR, next: { key: string; snap: GroupSnapshot; changed: boolean }[]): GroupSnapshot[] {
    this.ir = ir;
    for (const { key, snap } of next) this.groups.set(key, snap);
    this.waiting.clear();
    const changed = next.filter((n) => n.changed).map((n) => n.snap);
    if (this.options.incremental !== false) this.pruneEncodings();
    for (const snap of changed) for (const fn of this.listeners) fn(snap);
    return changed;
  }

  /**
   * Drops encodings no group uses any more once they outnumber the used ones
   * (amortized: an incremental build does not touch every resource to say it
   * is still in use). The rebuild reads the keys kept with each type snapshot.
   */
  private pruneEncodings(): void {
    let live = 0;
    // By size, not list length: a fast-path snapshot builds its list only when something reads it.
    for (const g of this.groups.values()) for (const t of PUSH_ORDER) live += g.types[t].resources.size;
    if (this.encoded.size <= 2 * live + 1024 && this.keyChars <= this.liveKeyChars + pruneSlackChars(this.liveKeyChars)) return;
    const used = new Map<string, EncodedResource>();
    for (const g of this.groups.values())
      for (const t of PUSH_ORDER) {
        const type = g.types[t];
        const src = this.sources.get(type);
        type.list.forEach((enc, i) => used.set(src?.clean ? src.keys[i] : `${t}\u0000${JSON.stringify(enc.json)}`, enc));
      }
    this.keepEncodings(used);
  }

  private keepEncodings(used: Map<string, EncodedResource>): void {
    this.encoded = used;
    let chars = 0;
    for (const k of used.keys()) chars += k.length;
    this.keyChars = this.liveKeyChars = chars;
  }

  private build(group: NodeGroup, ir: IR, used?: Map<string, EncodedResource>): GroupSnapshot {
    return this.snapshotOf(group, ir, translateGroup(ir, group, this.plugins, this.memoOf(group)), used);
  }

  private memoOf(group: NodeGroup): GroupMemo | undefined {
    if (this.options.incremental === false) return undefined;
    const key = groupKey(group);
    let m = this.memos.get(key);
    if (!m) this.memos.set(key, (m = new GroupMemo()));
    return m;
  }

  /** Encodes and checks one group's translated resources into its snapshot. */
  private snapshotOf(group: NodeGroup, ir: IR, translated: { resources: GroupResources; issues: TranslationIssue[] }, used?: Map<string, EncodedResource>): GroupSnapshot {
    const { resources, issues } = translated;
    const previous = this.groups.get(groupKey(group));
    const types = {} as Record<TypeUrl, TypeSnapshot>;
    for (const t of PUSH_ORDER) types[t] = this.encodeType(t, resources, issues, previous?.types[t], used);
    // The same type snapshots as the previous (consistent or kept) ones: nothing to check again.
    const broken = previous && PUSH_ORDER.every((t) => types[t] === previous.types[t]) ? [] : ((previous && this.options.incremental !== false && routeInconsistencies(previous.types, types)) || inconsistencies(types));
    if (broken.length) {
      for (const b of broken) issues.push({ ...b.owner, severity: 'error', message: `not published: ${b.message}` });
      this.invalid += broken.length;
      // Only consistent snapshots go out: keep the last good one (or nothing, for a new group).
      const kept = previous ? withCurrentEndpoints(previous.types, types[TYPE.endpoint]) : (Object.fromEntries(PUSH_ORDER.map((t) => [t, { version: versionOf([]), resources: new Map(), list: [] }])) as unknown as Record<TypeUrl, TypeSnapshot>);
      return { key: groupKey(group), group, revision: ir.revision, types: kept, issues, publishedAt: previous?.publishedAt ?? Date.now() };
    }
    return { key: groupKey(group), group, revision: ir.revision, types, issues, publishedAt: Date.now() };
  }

  /** Resources refused by validation or consistency checks since start (for metrics). */
  invalid = 0;

  private encodeType(
    typeUrl: TypeUrl,
    resources: GroupResources,
    issues: TranslationIssue[],
    previous: TypeSnapshot | undefined,
    used?: Map<string, EncodedResource>,
  ): TypeSnapshot {
    const list = resources[typeUrl];
    const before = previous && this.options.incremental !== false ? this.sources.get(previous) : undefined;
    // The very array the last snapshot was encoded from (the route fast path hands back unchanged types as they were): nothing to compare.
    if (before?.clean && !before.delta.size && before.base === list && !used) return previous!;
    // A copy of that array with a few places replaced (the route fast path after a health flip): look at those places only.
    const copy = before?.clean && previous && !used ? copyOf(list) : undefined;
    if (copy && copy.from === before!.base && list.length === before!.base.length) {
      const snap = this.encodeCopy(typeUrl, list, copy.at, before!, previous!, issues);
      if (snap) return snap;
    }
    if (before?.clean && before.list.length === list.length && list.every((r, i) => r.resource === before.list[i].resource && r.name === before.list[i].name)) {
      if (used) for (let i = 0; i < before.keys.length; i++) used.set(before.keys[i], previous!.list[i]);
      return previous!;
    }
    // Name and encoding in order; made a map only for a new snapshot (a type rendered again into the same encodings keeps its own).
    const entries: [string, EncodedResource][] = [];
    const keys: string[] = [];
    let clean = true;
    // While every name is where it was, the version is updated from the replaced resources alone.
    let aligned = !!before?.clean && before.list.length === list.length;
    const added: EncodedResource[] = [];
    for (let i = 0; i < list.length; i++) {
      const r = list[i];
      const p = aligned ? before!.list[i] : undefined;
      if (p && p.name !== r.name) aligned = false;
      // Unchanged since the previous snapshot (the same object at the same place): its encoding, found without serializing the resource.
      if (aligned && p!.resource === r.resource) {
        const enc = previous!.list[i];
        entries.push([r.name, enc]);
        keys.push(before!.keys[i]);
        continue;
      }
      const last = previous?.resources.get(r.name);
      const n = issues.length;
      const enc = this.encodeOne(typeUrl, r, issues, last, used);
      if (issues.length !== n || !enc) clean = false;
      if (enc) {
        entries.push([r.name, enc]);
        keys.push(this.byObject.get(r.resource)?.key ?? '');
        if (aligned && enc !== previous!.list[i]) {
          added.push(enc);
        }
      }
    }
    // Aligned names come from a clean snapshot, which had no duplicate: the entries are the map.
    if (aligned && previous && !added.length && entries.length === previous.list.length) {
      this.sources.set(previous, Sources.of(list, keys, clean && keys.length === list.length && entries.length === list.length));
      return previous;
    }
    if (aligned && previous && entries.length === previous.list.length) {
      // Same names in the same places, a few replaced: patch the last snapshot instead of copying it (a proxyless group has a listener and a route configuration per service).
      const snap: TypeSnapshot = derive(previous, new Map(added.map((r) => [r.name, r])));
      this.sources.set(snap, Sources.of(list, keys, clean && keys.length === list.length));
      return snap;
    }
    const map = new Map(entries);
    const resourcesList = [...map.values()];
    const snap: TypeSnapshot = { version: versionOf(resourcesList), resources: map, list: resourcesList };
    if (this.options.incremental !== false) this.sources.set(snap, Sources.of(list, keys, clean && keys.length === list.length && map.size === list.length));
    return snap;
  }

  /**
   * encodeType for a translated list that copies the one `before` starts
   * from, with the places `at` replaced: only those, and the names the EDS
   * fast path replaced since, can differ from the previous snapshot. The same
   * snapshot, version, issues and sources as the whole walk, in O(changed).
   * Undefined (nothing reported, nothing counted) when a resource has no valid
   * encoding: the whole walk handles that.
   */
  private encodeCopy(typeUrl: TypeUrl, list: NamedResource[], at: readonly number[], before: Sources, previous: TypeSnapshot, issues: TranslationIssue[]): TypeSnapshot | undefined {
    const places = new Set(at);
    if (before.delta.size) {
      const byName = positionsByName(list);
      for (const name of before.delta.keys()) {
        const i = byName.get(name);
        if (i === undefined) return undefined;
        places.add(i);
      }
    }
    const reported = issues.length;
    const invalid = this.invalid;
    const undo = () => {
      issues.length = reported;
      this.invalid = invalid;
      return undefined;
    };
    const keys = new Map<string, string>();
    const replaced = new Map<string, EncodedResource>();
    let clean = true;
    for (const i of [...places].sort((a, b) => a - b)) {
      const r = list[i];
      const was = before.at(i);
      const prev = previous.resources.get(r.name);
      if (was.name !== r.name || !prev) return undo();
      if (was.resource === r.resource) continue;
      const n = issues.length;
      const enc = this.encodeOne(typeUrl, r, issues, prev);
      if (!enc) return undo();
      if (issues.length !== n) clean = false;
      keys.set(r.name, this.byObject.get(r.resource)?.key ?? '');
      if (enc !== prev) replaced.set(r.name, enc);
    }
    const sources = before.rebase(list, keys, clean);
    if (!replaced.size) {
      this.sources.set(previous, sources);
      return previous;
    }
    const snap: TypeSnapshot = derive(previous, replaced);
    this.sources.set(snap, sources);
    return snap;
  }

  /** Encodes and validates one resource (once per distinct content); an invalid one falls back to `last`. */
  private encodeOne(typeUrl: TypeUrl, r: NamedResource, issues: TranslationIssue[], last: EncodedResource | undefined, used?: Map<string, EncodedResource>): EncodedResource | undefined {
    const known = this.options.incremental === false ? undefined : this.byObject.get(r.resource);
    const key = known?.key ?? `${typeUrl}\u0000${JSON.stringify(r.resource)}`;
    let enc = known?.enc ?? this.encoded.get(key);
    if (!enc) {
      // Route configurations from their virtual hosts' cached encodings (incremental builds only; the full build is the oracle).
      const split = typeUrl === TYPE.route && this.options.incremental !== false ? this.routes.encode(r.resource) : undefined;
      const value = split?.value ?? encodeResource(typeUrl, r.resource);
      enc = { name: r.name, hash: sha(value), any: encodeAny(typeUrl, value), json: r.resource, owner: r.owner, needs: r.needs, violations: split?.violations ?? validateEncoded(typeUrl, value) };
      this.encoded.set(key, enc);
      this.keyChars += key.length;
    }
    if (!known) this.byObject.set(r.resource, { key, enc });
    if (enc.violations.length) {
      this.invalid++;
      const good = last && !last.violations.length ? last : undefined;
      issues.push({
        ...r.owner,
        severity: 'error',
        message: `${typeUrl.split('.').pop()} ${r.name} violates Envoy's validation rules (${enc.violations.map((v) => `${v.path}: ${v.message}`).join('; ')}); ${good ? 'the last good version stays' : 'not published'}`,
      });
      return good;
    }
    used?.set(key, enc);
    return enc;
  }
}

/**
 * The last good snapshot with today's load assignments for the clusters it
 * has: while a configuration error keeps a group on its last good snapshot,
 * endpoint and health changes still reach its proxies (a bad instance still
 * leaves the pool). Still consistent: the same names, only their contents.
 * The EDS fast path does the same to a kept snapshot, so a full build and an
 * incremental one agree.
 */
function withCurrentEndpoints(kept: Record<TypeUrl, TypeSnapshot>, current: TypeSnapshot): Record<TypeUrl, TypeSnapshot> {
  const eds = kept[TYPE.endpoint];
  const replaced = new Map<string, EncodedResource>();
  for (const r of eds.list) {
    const now = current.resources.get(r.name);
    if (now && now !== r && now.hash !== r.hash) replaced.set(r.name, now);
  }
  if (!replaced.size) return kept;
  return { ...kept, [TYPE.endpoint]: derive(eds, replaced) };
}

const unique = (issues: TranslationIssue[]) => [...new Map(issues.map((i) => [JSON.stringify(i), i])).values()];

/** Snapshot consistency: every EDS name in CDS, every RDS name used by LDS, and nothing used that was not sent. */
export function inconsistencies(types: Record<TypeUrl, TypeSnapshot>): { owner: Owner; message: string }[] {
  const out: { owner: Owner; message: string }[] = [];
  const cds = types[TYPE.cluster].resources;
  const rds = types[TYPE.route].resources;
  for (const e of types[TYPE.endpoint].list) if (!cds.has(e.name)) out.push({ owner: e.owner, message: `endpoints ${e.name} have no cluster` });
  const usedRoutes = new Set<string>();
  for (const l of types[TYPE.listener].list)
    for (const n of l.needs ?? []) {
      usedRoutes.add(n);
      if (!rds.has(n)) out.push({ owner: l.owner, message: `listener ${l.name} needs route configuration ${n}, which is missing` });
    }
  for (const r of types[TYPE.route].list) {
    if (!usedRoutes.has(r.name)) out.push({ owner: r.owner, message: `route configuration ${r.name} is not used by any listener` });
    for (const c of r.needs ?? []) if (!cds.has(c)) out.push({ owner: r.owner, message: `route configuration ${r.name} points at cluster ${c}, which is missing` });
  }
  return out;
}

/**
 * inconsistencies(types) when `types` differs from `previous` only in the
 * contents of some route configurations (a route change): every published
 * snapshot is consistent, so only those configurations' clusters can be
 * missing. Same messages, in the same order. Undefined when anything else
 * changed (then check the whole snapshot).
 */
function routeInconsistencies(previous: Record<TypeUrl, TypeSnapshot>, types: Record<TypeUrl, TypeSnapshot>): { owner: Owner; message: string }[] | undefined {
  if (types[TYPE.cluster] !== previous[TYPE.cluster] || types[TYPE.endpoint] !== previous[TYPE.endpoint] || types[TYPE.listener] !== previous[TYPE.listener]) return undefined;
  const before = previous[TYPE.route].list;
  const after = types[TYPE.route].list;
  if (before.length !== after.length) return undefined;
  const cds = types[TYPE.cluster].resources;
  const out: { owner: Owner; message: string }[] = [];
  for (let i = 0; i < after.length; i++) {
    const r = after[i];
    if (r === before[i]) continue;
    if (r.name !== before[i].name) return undefined;
    for (const c of r.needs ?? []) if (!cds.has(c)) out.push({ owner: r.owner, message: `route configuration ${r.name} points at cluster ${c}, which is missing` });
  }
  return out;
}

/** Nest injection token for the cache the xDS server reads (an XdsCache). */
export const XDS_CACHE = Symbol('XdsCache');
