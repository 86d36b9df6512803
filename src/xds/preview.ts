import { Injectable } from '@nestjs/common';
import { ChangeFeed } from '../feed/change-feed.js';
import { keyOf, type Resource, type ResourceKey } from '../model/resources.js';
import type { RollbackCandidate, RollbackRequest, RollbackResult } from '../registry/rollback.js';
import { POLICY_KINDS } from '../policies/index.js';
import { parseApplyBody } from '../registry/apply-format.js';
import { type ApplyResult, RegistryService, type WriteContext } from '../registry/registry.service.js';
import { parseResource } from '../registry/validation.js';
import { PUSH_ORDER } from '../translate/envoy-types.js';
import { buildIR } from '../translate/ir.js';
import { groupKey, type IR, type NodeGroup, type TranslationIssue } from '../translate/types.js';
import { translateGroup } from '../translate/xds.js';
import { SnapshotCache } from './cache/cache.js';
import { encodeResource } from './cache/envoy-protos.js';
import { validateEncoded } from './cache/pgv.js';
import { shortType } from './xds-metrics.js';

/** What would change for one xDS type of one node group. */
export interface TypeDiff {
  added: string[];
  changed: string[];
  removed: string[];
}

/** The dry run of an apply, as what proxies would be sent. */
export interface PreviewResult extends ApplyResult {
  /** Per node group and type; groups and types with no change are left out. */
  xds: Record<string, Partial<Record<'CDS' | 'EDS' | 'LDS' | 'RDS', TypeDiff>>>;
  /** Resources the candidate would produce that Envoy's rules refuse (they would not be sent). */
  refused: { group: string; type: string; name: string; violations: string[] }[];
  /** Translation problems the candidate would have that the current state has not. */
  issues: TranslationIssue[];
}

/** A rollback's dry run with what proxies would be sent. */
export type RollbackPreviewResult = RollbackResult & Pick<PreviewResult, 'xds' | 'refused' | 'issues'>;

/**
 * Preview: an apply's dry run shown as an xDS diff. The candidate registry
 * (the current one with the documents applied) is translated exactly as a
 * publish would, for every node group, and compared with what the current state
 * produces; nothing is written or pushed.
 */
@Injectable()
export class XdsPreview {
  constructor(
    private readonly registry: RegistryService,
    private readonly feed: ChangeFeed,
    private readonly cache: SnapshotCache,
  ) {}

  async preview(body: unknown, ctx: WriteContext): Promise<PreviewResult> {
    const docs = parseApplyBody(body);
    // Validation, references and every other write rule, in a transaction that is rolled back.
    const result = await this.registry.apply(docs, { ...ctx, dryRun: true });
    const upserts = docs.map((d, i) => {
      const { input } = parseResource(d, { prefix: `resources[${i}]` });
      return { ...input, version: 0, createdAt: '', updatedAt: '', status: {} } as Resource;
    });
    return { ...result, ...this.diffCandidate(upserts, []) };
  }

  /**
   * A rollback's dry run (the registry's own answer) with the xDS diff it
   * would cause. The registry layer cannot see xDS, so the composition lives here.
   */
  async previewRollback(req: RollbackRequest, ctx: WriteContext): Promise<RollbackPreviewResult> {
    let candidate: RollbackCandidate = { upserts: [], deletes: [] };
    const result = await this.registry.rollback({ ...req, dryRun: true }, ctx, { candidate: (c) => (candidate = c) });
    return { ...result, ...this.diffCandidate(candidate.upserts, candidate.deletes) };
  }

  /** Translates the current state and the candidate (current with `upserts` written and `deletes` gone) for every node group, and compares them. */
  private diffCandidate(upserts: Resource[], deletes: ResourceKey[]): Pick<PreviewResult, 'xds' | 'refused' | 'issues'> {
    const current = this.feed.translateInput();
    const byKey = new Map(current.resources.map((r) => [id(r), r]));
    for (const u of upserts) {
      const prev = byKey.get(id(u));
      byKey.set(id(u), { ...u, version: u.version || (prev?.version ?? 0) + 1, createdAt: u.createdAt || prev?.createdAt || '', updatedAt: u.updatedAt, status: prev?.status ?? u.status ?? {} });
    }
    for (const k of deletes) byKey.delete(`${k.kind}/${k.scope}/${k.name}`);
    const before = buildIR(current, POLICY_KINDS);
    const after = buildIR({ ...current, resources: [...byKey.values()] }, POLICY_KINDS);
    const groups = new Map<string, NodeGroup>([[groupKey({ kind: 'proxyless', cluster: '' }), { kind: 'proxyless', cluster: '' }]]);
    for (const g of this.cache.knownGroups()) groups.set(groupKey(g), g);
    for (const l of [...before.listeners, ...after.listeners]) groups.set(groupKey({ kind: 'envoy', cluster: l.group }), { kind: 'envoy', cluster: l.group });
    const xds: PreviewResult['xds'] = {};
    const refused: PreviewResult['refused'] = [];
    for (const [key, group] of [...groups.entries()].sort()) {
      const a = translateGroup(before, group, POLICY_KINDS).resources;
      const b = translateGroup(after, group, POLICY_KINDS).resources;
      for (const type of PUSH_ORDER) {
        const d = diff(a[type], b[type]);
        if (d.added.length || d.changed.length || d.removed.length) (xds[key] ??= {})[shortType(type) as 'CDS'] = d;
        for (const name of [...d.added, ...d.changed]) {
          const r = b[type].find((x) => x.name === name)!;
          const violations = validateEncoded(type, encodeResource(type, r.resource));
          if (violations.length) refused.push({ group: key, type: shortType(type), name, violations: violations.map((v) => `${v.path}: ${v.message}`) });
        }
      }
    }
    return { xds, refused, issues: newIssues(before, after) };
  }
}

const id = (r: { kind: string; name: string; service?: string }) => `${r.kind}/${keyOf(r as Resource).scope}/${r.name}`;

function diff(a: { name: string; resource: object }[], b: { name: string; resource: object }[]): TypeDiff {
  const old = new Map(a.map((r) => [r.name, JSON.stringify(r.resource)]));
  const now = new Map(b.map((r) => [r.name, JSON.stringify(r.resource)]));
  return {
    added: [...now.keys()].filter((n) => !old.has(n)),
    changed: [...now.keys()].filter((n) => old.has(n) && old.get(n) !== now.get(n)),
    removed: [...old.keys()].filter((n) => !now.has(n)),
  };
}

function newIssues(before: IR, after: IR): TranslationIssue[] {
  const seen = new Set(before.issues.map((i) => JSON.stringify(i)));
  return after.issues.filter((i) => !seen.has(JSON.stringify(i)));
}

