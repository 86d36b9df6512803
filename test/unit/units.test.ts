import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { matchesSelector, parseLabelSelector } from '../../src/registry/label-selector.js';
import { stableJson } from '../../src/common/json.js';
import { checkPrecondition, mergePatch } from '../../src/registry/registry.service.js';
import { parseApplyBody } from '../../src/registry/apply-format.js';

describe('configuration', () => {
  it('has documented defaults', () => {
    const c = loadConfig({});
    assert.equal(c.PORT, 8080);
    assert.equal(c.GRPC_PORT, 9090);
    assert.equal(c.XDS_PORT, 18000);
    assert.equal(c.DATA_DIR, './.switchyard/data');
    assert.equal(c.DATABASE_URL, undefined);
    assert.equal(c.MIGRATIONS_RUN, true);
  });
  it('reads the environment and an optional config file underneath it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'PORT: 9000\nGRPC_PORT: 9001\nMIGRATIONS_RUN: false\n');
    const c = loadConfig({ CONFIG_FILE: file, GRPC_PORT: '7000' });
    assert.equal(c.PORT, 9000);
    assert.equal(c.GRPC_PORT, 7000, 'environment wins');
    assert.equal(c.MIGRATIONS_RUN, false);
    writeFileSync(file, 'PROT: 1\n');
    assert.throws(() => loadConfig({ CONFIG_FILE: file }), /unknown setting PROT/);
  });
  it('names every bad variable', () => {
    assert.throws(
      () => loadConfig({ PORT: '70000', DATABASE_URL: 'mysql://x', MIGRATIONS_RUN: 'perhaps' }),
      (e: Error) =>
        e instanceof ConfigError && /PORT="70000": must not be greater than 65535/.test(e.message) && /DATABASE_URL/.test(e.message) && /MIGRATIONS_RUN/.test(e.message),
    );
  });
});

describe('label selectors', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['version=v2', { version: 'v2' }, true],
    ['version==v2', { version: 'v1' }, false],
    ['version!=v2', {}, true],
    ['canary', { canary: '' }, true],
    ['!canary', { canary: 'x' }, false],
    ['env in (a, b),tier', { env: 'b', tier: 'web' }, true],
    ['env notin (a,b)', { env: 'a' }, false],
    ['env notin (a,b)', {}, true],
  ];
  for (const [sel, labels, want] of cases) it(`${sel} on ${JSON.stringify(labels)} → ${want}`, () => assert.equal(matchesSelector(labels, parseLabelSelector(sel)), want));
  it('rejects garbage', () => {
    assert.throws(() => parseLabelSelector('a b c'), /labelSelector|cannot parse/);
    assert.throws(() => parseLabelSelector('bad key=1'));
  });
});

describe('helpers', () => {
  it('merge patch follows RFC 7396', () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] }), { a: 1, b: { d: 3, e: 4 }, f: [1] });
  });
  it('stable JSON ignores key order', () => {
    assert.equal(stableJson({ b: 1, a: [{ y: 1, x: 2 }] }), stableJson({ a: [{ x: 2, y: 1 }], b: 1 }));
  });
  it('If-Match forms', () => {
    const cur = { kind: 'Service', name: 'a', version: 3 } as any;
    assert.doesNotThrow(() => checkPrecondition(cur, '"3"', undefined));
    assert.doesNotThrow(() => checkPrecondition(cur, '"1", "3"', undefined));
    assert.doesNotThrow(() => checkPrecondition(cur, '*', undefined));
    assert.throws(() => checkPrecondition(cur, '"2"', undefined), /version mismatch/);
    assert.throws(() => checkPrecondition(undefined, '*', undefined), /does not exist/);
    assert.throws(() => checkPrecondition(cur, 'W/"3"', undefined), /quoted versions/);
  });
  it('apply bodies: YAML stream, JSON array, {resources}, single object', () => {
    assert.equal(parseApplyBody('kind: Service\n---\n---\nkind: Route\n').length, 2);
    assert.equal(parseApplyBody([{ kind: 'Service' }]).length, 1);
    assert.equal(parseApplyBody({ resources: [{}, {}] }).length, 2);
    assert.equal(parseApplyBody({ kind: 'Service' }).length, 1);
    assert.throws(() => parseApplyBody(42), /YAML stream/);
    assert.throws(() => parseApplyBody('a: 1\na: 2\n'), /invalid YAML/);
  });
});
