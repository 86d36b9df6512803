import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../src/common/paths.js';
import type { Resource } from '../src/registry/model.js';
import { parseResource } from '../src/registry/validation.js';
import { buildIR } from '../src/translate/ir.js';
import { groupKey, type NodeGroup, translateGroup } from '../src/translate/xds.js';
import { decodeResource, encodeResource, TYPE } from '../src/xds/envoy-protos.js';
import { validateEncoded } from '../src/xds/validate/pgv.js';

const DIR = join(PACKAGE_ROOT, 'test/golden/translate');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const OUTPUTS = { cds: TYPE.cluster, eds: TYPE.endpoint, lds: TYPE.listener, rds: TYPE.route } as const;

/** Reads a case: registry resources, validated exactly as the API would. */
function load(file: string): Resource[] {
  return YAML.parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d, i) => {
    const { input } = parseResource(d.toJS(), { prefix: `document ${i + 1}` });
    return { ...input, version: 1, createdAt: '', updatedAt: '', status: {} };
  });
}

function golden(name: string, actual: unknown): void {
  const file = join(DIR, name);
  const text = YAML.stringify(actual, { sortMapEntries: false, lineWidth: 0, aliasDuplicateObjects: false });
  if (UPDATE || !existsSync(file)) {
    if (!UPDATE) assert.fail(`${name} is missing; run with UPDATE_GOLDEN=1 to create it`);
    writeFileSync(file, text);
    return;
  }
  assert.equal(text, readFileSync(file, 'utf8'), `${name} differs; if the change is intended, run with UPDATE_GOLDEN=1`);
}

describe('translation golden files (test/golden/translate: *.in.yaml → *.<stage>.out.yaml)', () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.in.yaml')).sort()) {
    const name = file.replace(/\.in\.yaml$/, '');
    it(name, () => {
      const resources = load(file);
      const ir = buildIR({ revision: 1, resources });
      const again = buildIR({ revision: 1, resources: [...resources].reverse() });
      assert.deepEqual(again, ir, 'input order does not matter');
      golden(`${name}.ir.out.yaml`, { clusters: ir.clusters, virtualHosts: ir.virtualHosts, listeners: ir.listeners });

      const groups: NodeGroup[] = [
        { kind: 'proxyless', cluster: '' },
        ...[...new Set(ir.listeners.map((l) => l.group))].sort().map((cluster) => ({ kind: 'envoy' as const, cluster })),
      ];
      const perType: Record<string, Record<string, unknown[]>> = { cds: {}, eds: {}, lds: {}, rds: {} };
      const groupIssues: Record<string, unknown[]> = {};
      for (const g of groups) {
        const { resources: out, issues } = translateGroup(ir, g);
        if (issues.length) groupIssues[groupKey(g)] = issues;
        for (const [short, type] of Object.entries(OUTPUTS)) {
          perType[short][groupKey(g)] = out[type].map((r) => {
            // Every resource must survive a protobuf round trip unchanged in meaning.
            const bytes = encodeResource(type, r.resource);
            const decoded = decodeResource(type, bytes);
            assert.equal(decoded.name ?? decoded.cluster_name, r.name);
            // ...and pass Envoy's own validation rules.
            assert.deepEqual(validateEncoded(type, bytes), [], `${short} ${r.name} in ${groupKey(g)}`);
            return r.resource;
          });
        }
      }
      for (const short of Object.keys(OUTPUTS)) golden(`${name}.${short}.out.yaml`, perType[short]);
      golden(`${name}.status.out.yaml`, { registry: ir.issues, groups: groupIssues });
    });
  }
});
