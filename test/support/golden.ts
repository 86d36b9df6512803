import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import YAML from 'yaml';
import type { Resource } from '../../src/model/resources.js';
import { POLICY_KINDS } from '../../src/policies/index.js';
import { parseResource } from '../../src/registry/validation.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { buildIR } from '../../src/translate/ir.js';
import { groupKey, type NodeGroup } from '../../src/translate/types.js';
import { translateGroup } from '../../src/translate/xds.js';
import { decodeResource, encodeResource } from '../../src/xds/cache/envoy-protos.js';
import { validateEncoded } from '../../src/xds/cache/pgv.js';

export const UPDATE = process.env.UPDATE_GOLDEN === '1';
const OUTPUTS = { cds: TYPE.cluster, eds: TYPE.endpoint, lds: TYPE.listener, rds: TYPE.route } as const;

/** Compares `actual` (as YAML) with `dir/name`; UPDATE_GOLDEN=1 rewrites it. */
export function golden(dir: string, name: string, actual: unknown): void {
  const file = join(dir, name);
  const text = YAML.stringify(actual, { sortMapEntries: false, lineWidth: 0, aliasDuplicateObjects: false });
  if (UPDATE || !existsSync(file)) {
    if (!UPDATE) assert.fail(`${name} is missing; run with UPDATE_GOLDEN=1 to create it`);
    writeFileSync(file, text);
    return;
  }
  assert.equal(text, readFileSync(file, 'utf8'), `${name} differs; if the change is intended, run with UPDATE_GOLDEN=1`);
}

/** Reads a case of registry resources, validated exactly as the API would. */
export function loadResources(file: string): Resource[] {
  return YAML.parseAllDocuments(readFileSync(file, 'utf8')).map((d, i) => {
    const { input } = parseResource(d.toJS(), { prefix: `document ${i + 1}` });
    return { ...input, version: 1, createdAt: '', updatedAt: '', status: {} };
  });
}

/**
 * One test per `*.in.yaml` in `dir`: registry → IR → Envoy resources for the
 * proxyless group and every Envoy group its listeners name, each resource
 * round-tripped through protobuf and checked against Envoy's PGV rules.
 */
export function translationGoldens(dir: string): void {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.in.yaml')).sort()) {
    const name = file.replace(/\.in\.yaml$/, '');
    it(name, () => {
      const resources = loadResources(join(dir, file));
      const ir = buildIR({ revision: 1, resources }, POLICY_KINDS);
      const again = buildIR({ revision: 1, resources: [...resources].reverse() }, POLICY_KINDS);
      assert.deepEqual(again, ir, 'input order does not matter');
      golden(dir, `${name}.ir.out.yaml`, { clusters: ir.clusters, virtualHosts: ir.virtualHosts, listeners: ir.listeners });

      // <name>.groups.yaml may add groups, e.g. clients with a node.locality.
      const extra = join(dir, `${name}.groups.yaml`);
      const groups: NodeGroup[] = [
        { kind: 'proxyless', cluster: '' },
        ...[...new Set(ir.listeners.map((l) => l.group))].sort().map((cluster) => ({ kind: 'envoy' as const, cluster })),
        ...(existsSync(extra) ? (YAML.parse(readFileSync(extra, 'utf8')) as NodeGroup[]) : []),
      ];
      const perType: Record<string, Record<string, unknown[]>> = { cds: {}, eds: {}, lds: {}, rds: {} };
      const groupIssues: Record<string, unknown[]> = {};
      for (const g of groups) {
        const { resources: out, issues } = translateGroup(ir, g, POLICY_KINDS);
        if (issues.length) groupIssues[groupKey(g)] = issues;
        for (const [short, type] of Object.entries(OUTPUTS)) {
          perType[short][groupKey(g)] = out[type].map((r) => {
            // Every resource must survive a protobuf round trip unchanged in meaning...
            const bytes = encodeResource(type, r.resource);
            const decoded = decodeResource(type, bytes);
            assert.equal(decoded.name ?? decoded.cluster_name, r.name);
            // ...and pass Envoy's own validation rules.
            assert.deepEqual(validateEncoded(type, bytes), [], `${short} ${r.name} in ${groupKey(g)}`);
            return r.resource;
          });
        }
      }
      for (const short of Object.keys(OUTPUTS)) golden(dir, `${name}.${short}.out.yaml`, perType[short]);
      golden(dir, `${name}.status.out.yaml`, { registry: ir.issues, groups: groupIssues });
    });
  }
}
