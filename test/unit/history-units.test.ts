import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { applyJsonPatch, jsonPatch } from '../../src/common/json-patch.js';
import { parseDiffRange } from '../../src/registry/history.js';
import { prng } from '../support/prng.js';


function randomJson(r: () => number, depth = 0): unknown {
  const x = r();
  if (depth > 3 || x < 0.3) return [1, 'a', true, null, 2.5, 'x/y~z'][Math.floor(r() * 6)];
  if (x < 0.65) return Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth + 1));
  const keys = ['a', 'b', 'c/d', 'e~f', ''];
  return Object.fromEntries(keys.filter(() => r() < 0.5).map((k) => [k, randomJson(r, depth + 1)]));
}

describe('JSON patch (RFC 6902) generator', () => {
  it('turns a into b for 2000 random pairs of documents (escaped keys, nested arrays, type changes)', () => {
    const r = prng(7);
    for (let i = 0; i < 2000; i++) {
      const a = { doc: randomJson(r) };
      const b = { doc: randomJson(r) };
      const patch = jsonPatch(a, b);
      assert.deepEqual(applyJsonPatch(a, patch), b, `case ${i}: ${JSON.stringify(a)} -> ${JSON.stringify(b)} via ${JSON.stringify(patch)}`);
      assert.deepEqual(jsonPatch(a, a), [], 'no change, no operations');
    }
  });

  it('escapes ~ and / in paths and removes array items from the end', () => {
    assert.deepEqual(jsonPatch({ 'a/b': 1, 'c~d': [1, 2, 3] }, { 'a/b': 2, 'c~d': [1] }), [
      { op: 'replace', path: '/a~1b', value: 2 },
      { op: 'remove', path: '/c~0d/2' },
      { op: 'remove', path: '/c~0d/1' },
    ]);
  });
});

describe('history helpers and AUDIT_LOG', () => {
  it('parses diff ranges', () => {
    assert.deepEqual(parseDiffRange('2..5'), { from: 2, to: 5 });
    assert.deepEqual(parseDiffRange('2..'), { from: 2 });
    for (const bad of ['0..2', '2', '..3', 'a..b', '1..0']) assert.throws(() => parseDiffRange(bad), /diff/);
  });

  it('AUDIT_LOG is stdout, off or a path with a slash', () => {
    assert.equal(loadConfig({}).AUDIT_LOG, 'off');
    for (const ok of ['stdout', 'off', './audit.jsonl', '/var/log/switchyard/audit.jsonl']) assert.equal(loadConfig({ AUDIT_LOG: ok }).AUDIT_LOG, ok);
    for (const bad of ['stdot', 'audit.jsonl', '/var/log/']) assert.throws(() => loadConfig({ AUDIT_LOG: bad }), (e: Error) => e instanceof ConfigError && /AUDIT_LOG/.test(e.message));
  });
});
