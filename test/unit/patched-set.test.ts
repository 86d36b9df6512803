/**
 * patchSet (src/xds/cache/patched.ts) against the plain copy it replaces:
 * for random runs of patches, every patched set reads exactly like a Map copy
 * with the same values replaced (get, has, size, keys, values, entries,
 * forEach, iteration order, `new Map(...)`, the list), and a run of patches
 * keeps no chain of earlier sets alive.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { foldAt, type NamedSet, PatchedMap, patchSet } from '../../src/xds/cache/patched.js';

interface Item {
  name: string;
  v: number;
}

const plain = (names: string[]): NamedSet<Item> => {
  const list = [...names].sort().map((name) => ({ name, v: 0 }));
  return { resources: new Map(list.map((r) => [r.name, r])), list };
};

/** The oracle: copy the map, replace the values, list in name order. */
const copy = (base: { resources: ReadonlyMap<string, Item> }, replaced: Map<string, Item>) => {
  const resources = new Map(base.resources);
  for (const [k, v] of replaced) resources.set(k, v);
  return { resources, list: [...resources.values()] };
};

function assertSame(actual: NamedSet<Item>, expected: { resources: Map<string, Item>; list: Item[] }, names: string[]): void {
  assert.equal(actual.resources.size, expected.resources.size);
  assert.deepEqual([...actual.resources.keys()], [...expected.resources.keys()]);
  assert.deepEqual([...actual.resources.values()], [...expected.resources.values()]);
  assert.deepEqual([...actual.resources.entries()], [...expected.resources.entries()]);
  assert.deepEqual([...actual.resources], [...expected.resources]);
  assert.deepEqual([...new Map(actual.resources)], [...expected.resources]);
  const seen: [string, Item][] = [];
  actual.resources.forEach((v, k) => seen.push([k, v]));
  assert.deepEqual(seen, [...expected.resources]);
  for (const n of [...names, 'absent']) {
    assert.equal(actual.resources.get(n), expected.resources.get(n), `get(${n})`);
    assert.equal(actual.resources.has(n), expected.resources.has(n), `has(${n})`);
  }
  assert.deepEqual(actual.list, expected.list);
}

describe('patchSet: a patched set reads like a copy', () => {
  it('random runs of patches, past several folds, equal the plain copy at every step', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.array(fc.nat(), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 150 }),
        (names, patches) => {
          let actual: NamedSet<Item> = plain(names);
          let expected = copy(actual, new Map());
          const sorted = [...names].sort();
          patches.forEach((picks, step) => {
            const replaced = new Map(picks.map((p) => sorted[p % sorted.length]).map((name) => [name, { name, v: step + 1 }]));
            actual = patchSet(actual, replaced, `v${step}`);
            expected = copy(expected, replaced);
            assertSame(actual, expected, names);
          });
        },
      ),
      { numRuns: 150, seed: 17 },
    );
  });

  it('shares the root until the overlay passes foldAt, then folds into a plain map', () => {
    const names = Array.from({ length: 400 }, (_, i) => `c${String(i).padStart(3, '0')}`);
    let set: NamedSet<Item> = plain(names);
    const root = set.resources;
    const limit = foldAt(names.length);
    for (let i = 0; i < limit; i++) {
      set = patchSet(set, new Map([[names[i], { name: names[i], v: 1 }]]), `v${i}`);
      assert.ok(set.resources instanceof PatchedMap && set.resources.root === root, `patch ${i} shares the root`);
    }
    set = patchSet(set, new Map([[names[limit], { name: names[limit], v: 1 }]]), 'folded');
    assert.ok(!(set.resources instanceof PatchedMap), 'folded into a plain map');
    assert.equal([...set.resources.values()].filter((r) => r.v === 1).length, limit + 1);
  });

  it('a name the base lacks gives a plain copy holding it', () => {
    const set = patchSet(plain(['a', 'c']), new Map([['b', { name: 'b', v: 1 }]]), 'v');
    assert.ok(!(set.resources instanceof PatchedMap));
    assert.deepEqual(set.list.map((r) => r.name), ['a', 'b', 'c']);
    assert.equal(set.resources.get('b')?.v, 1);
  });

  it('keeps no chain: 2,000 patches leave the superseded sets collectable', async () => {
    const names = Array.from({ length: 20_000 }, (_, i) => `n${i}`);
    let set: NamedSet<Item> = plain(names);
    const superseded: WeakRef<object>[] = [];
    for (let i = 0; i < 2000; i++) {
      superseded.push(new WeakRef(set));
      const name = names[(i * 7919) % names.length];
      set = patchSet(set, new Map([[name, { name, v: i }]]), `v${i}`);
      // Reading the list (as a full build would) must not pin the set it came from either.
      if (i % 100 === 0) assert.equal(set.list.length, names.length);
    }
    await new Promise((r) => setImmediate(r));
    const gc = (globalThis as { gc?: () => void }).gc ?? (setFlagsFromString('--expose-gc'), runInNewContext('gc') as () => void);
    gc();
    const alive = superseded.filter((w) => w.deref() !== undefined).length;
    assert.ok(alive <= 1, `${alive} of 2000 superseded sets still reachable`);
  });
});
