import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import type { CheckedState } from '../../src/model/health.js';
import type { EndpointSpec, Resource } from '../../src/model/resources.js';
import { parseResource } from '../../src/registry/validation.js';
import { mergeEndpoints } from '../../src/translate/endpoints.js';
import { golden } from '../support/golden.js';

const DIR = join(PACKAGE_ROOT, 'test/golden/endpoints');

interface Case {
  panicPercent: number;
  durable: unknown[];
  heartbeat: unknown[];
  checked: Record<string, CheckedState>;
}

const endpoint = (raw: unknown, i: number, where: string): Resource<EndpointSpec> => {
  const { input } = parseResource({ ...(raw as object), kind: 'Endpoint', service: 'svc' }, { kind: 'Endpoint', service: 'svc', prefix: `${where}[${i}]`, heartbeat: where === 'heartbeat' });
  return { ...(input as unknown as Resource<EndpointSpec>), version: 1, createdAt: '', updatedAt: '', status: {} };
};

describe('endpoint merge golden files (test/golden/endpoints: durable + heartbeat + health → what proxies get)', () => {
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.in.yaml')).sort()) {
    const name = file.replace(/\.in\.yaml$/, '');
    it(name, () => {
      const c = YAML.parse(readFileSync(join(DIR, file), 'utf8')) as Case;
      const merged = mergeEndpoints(
        'svc',
        { durable: c.durable.map((e, i) => endpoint(e, i, 'durable')), heartbeat: c.heartbeat.map((e, i) => endpoint(e, i, 'heartbeat')), checked: new Map(Object.entries(c.checked)) },
        c.panicPercent / 100,
      );
      golden(DIR, `${name}.out.yaml`, {
        endpoints: merged.endpoints.map((e) => ({ name: e.name, address: e.spec.address, health: e.spec.health ?? 'unknown', from: e.spec.ttlSeconds ? 'heartbeat' : 'durable' })),
        panic: merged.panic ?? null,
        issues: merged.issues,
      });
    });
  }
});
