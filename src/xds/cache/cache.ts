import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import { PUSH_ORDER, TYPE, type TypeUrl } from '../../translate/envoy-types.js';
import type { PolicyPlugin } from '../../translate/plugin.js';
import { groupKey, type IR, type NodeGroup, type Owner, type TranslationIssue } from '../../translate/types.js';
import { edsResource, type GroupResources, type NamedResource, translateGroup } from '../../translate/xds.js';
import { encodeResource } from './envoy-protos.js';
import { type PgvViolation, validateEncoded } from './pgv.js';
import { noteDerived, versionAfter, versionOf } from './versions.js';

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
  resources: Map<string, EncodedResource>;
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

/** What the xDS server needs from the cache, and nothing more. */
export interface XdsCache {
  /** The current snapshot for a group, computed on first use. */
  snapshot(group: NodeGroup): GroupSnapshot | undefined;
  /** Called with every group snapshot whose content changed. */
  onUpdate(fn: (snap: GroupSnapshot) => void): () => void;
}

export const sha = (s: string | Uint8Array) => createHash('sha256').update(s).digest('base64url').slice(0, 22);

function encodeAny(typeUrl: string, value: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32(10).string(typeUrl).uint32(18).bytes(value).finish();
}

/**
 * Snapshot cache fed with IRs. Resources are encoded once per distinct content
 * (keyed by a hash of their JSON) and reused across rebuilds and groups.
 */
export class SnapshotCache implements XdsCache {
  private ir?: IR;
  private readonly groups = new Map<string, GroupSnapshot>();
  /** Groups asked for before the first IR: built and announced when it arrives. */
  private readonly waiting = new Map<string, NodeGroup>();

  /** `plugins` are the policy plugins translation applies (src/policies registers them). */
  constructor(private readonly plugins: readonly PolicyPlugin[]) {}
  private readonly listeners = new Set<(snap: GroupSnapshot) => void>();
  private readonly newGroupListeners = new Set<(snap: GroupSnapshot) => void>();
  private encoded = new Map<string, EncodedResource>();

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

  /** Known groups (those some client asked for). */
  knownGroups(): NodeGroup[] {
    return [...this.groups.values()].map((g) => g.group);
  }

  /**
   * Publishes a new IR: rebuilds every known group and notifies those whose content changed.
   * With `edsOnly`, only the named clusters' endpoints changed: the EDS fast path
   * recomputes just those load assignments and reuses everything else.
   */
  setIR(ir: IR, edsOnly?: Set<string>): GroupSnapshot[] {
    this.ir = ir;
    const changed: GroupSnapshot[] = [];
    if (edsOnly) {
      const byName = new Map(ir.clusters.filter((c) => edsOnly.has(c.name)).map((c) => [c.name, c]));
      for (const [key, old] of this.groups) {
        const eds = old.types[TYPE.endpoint];
        // Drop only the EDS problems of the clusters being recomputed; the rest still hold.
        const issues: TranslationIssue[] = old.issues.filter((i) => !(i.message.startsWith('ClusterLoadAssignment ') && [...byName.keys()].some((n) => i.message.startsWith(`ClusterLoadAssignment ${n} `))));
        // O(changed) apart from two shallow copies: names stay the same, only contents are replaced.
        const replaced = new Map<string, EncodedResource>();
        for (const [name, c] of byName) {
          const prev = eds.resources.get(name);
          if (!prev) continue;
          const one = edsResource(c, old.group, this.plugins);
          issues.push(...one.issues);
          const enc = this.encodeOne(TYPE.endpoint, one.resource, issues, prev);
          if (enc && enc !== prev) replaced.set(name, enc);
        }
        let endpoints = eds;
        if (replaced.size) {
          const resources = new Map(eds.resources);
          for (const [n, r] of replaced) resources.set(n, r);
          const v = versionAfter(eds, [...replaced.keys()].map((n) => eds.resources.get(n)!), replaced.values());
          endpoints = { version: v.version, resources, list: eds.list.map((r) => replaced.get(r.name) ?? r) };
          v.remember(endpoints);
          noteDerived(endpoints, { from: eds, changed: [...replaced.keys()] });
        }
        const next: GroupSnapshot = { ...old, revision: ir.revision, issues: unique(issues), publishedAt: Date.now(), types: { ...old.types, [TYPE.endpoint]: endpoints } };
        this.groups.set(key, next);
        if (next.types[TYPE.endpoint].version !== eds.version) changed.push(next);
      }
    } else {
      const used = new Map<string, EncodedResource>();
      for (const [key, old] of this.groups) {
        const next = this.build(old.group, ir, used);
        this.groups.set(key, next);
        if (PUSH_ORDER.some((t) => next.types[t].version !== old.types[t].version)) changed.push(next);
      }
      // Drop encodings no group uses any more, so memory follows the catalogue, not its history.
      if (this.groups.size) this.encoded = used;
    }
    for (const [key, group] of this.waiting) {
      const snap = this.build(group, ir);
      this.groups.set(key, snap);
      changed.push(snap);
    }
    this.waiting.clear();
    for (const snap of changed) for (const fn of this.listeners) fn(snap);
    return changed;
  }

  private build(group: NodeGroup, ir: IR, used?: Map<string, EncodedResource>): GroupSnapshot {
    const { resources, issues } = translateGroup(ir, group, this.plugins);
    const previous = this.groups.get(groupKey(group));
    const types = {} as Record<TypeUrl, TypeSnapshot>;
    for (const t of PUSH_ORDER) types[t] = this.encodeType(t, resources, issues, previous?.types[t], used);
    const broken = inconsistencies(types);
    if (broken.length) {
      for (const b of broken) issues.push({ ...b.owner, severity: 'error', message: `not published: ${b.message}` });
      this.invalid += broken.length;
      // Only consistent snapshots go out: keep the last good one (or nothing, for a new group).
      const kept = previous?.types ?? (Object.fromEntries(PUSH_ORDER.map((t) => [t, { version: versionOf([]), resources: new Map(), list: [] }])) as unknown as Record<TypeUrl, TypeSnapshot>);
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
    const map = new Map<string, EncodedResource>();
    for (const r of resources[typeUrl]) {
      const enc = this.encodeOne(typeUrl, r, issues, previous?.resources.get(r.name), used);
      if (enc) map.set(r.name, enc);
    }
    return { version: versionOf(map.values()), resources: map, list: [...map.values()] };
  }

  /** Encodes and validates one resource (once per distinct content); an invalid one falls back to `last`. */
  private encodeOne(typeUrl: TypeUrl, r: NamedResource, issues: TranslationIssue[], last: EncodedResource | undefined, used?: Map<string, EncodedResource>): EncodedResource | undefined {
    const key = `${typeUrl}\u0000${JSON.stringify(r.resource)}`;
    let enc = this.encoded.get(key);
    if (!enc) {
      const value = encodeResource(typeUrl, r.resource);
      enc = { name: r.name, hash: sha(value), any: encodeAny(typeUrl, value), json: r.resource, owner: r.owner, needs: r.needs, violations: validateEncoded(typeUrl, value) };
      this.encoded.set(key, enc);
    }
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

/** Nest injection token for the cache the xDS server reads (an XdsCache). */
export const XDS_CACHE = Symbol('XdsCache');
