import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { copyOf, noteCopy } from '../../src/translate/positions.js';

const gc = (globalThis as { gc?: () => void }).gc ?? (setFlagsFromString('--expose-gc'), runInNewContext('gc') as () => void);

describe('translate positions: noted copies', () => {
  it('a copy says which list it came from and where, while that list is reachable', () => {
    const from = [{ name: 'a' }, { name: 'b' }];
    const to = [from[0], { name: 'b' }];
    noteCopy(from, to, [1]);
    assert.deepEqual(copyOf(to), { from, at: [1] });
    assert.equal(copyOf(from), undefined);
  });

  // Each route change copies the last RouteConfiguration list; a strong link to
  // the list before chained every version to the newest (the slow proxies scenario
  // found the control plane's heap growing ~80 KiB per change at 1,000 services).
  it('a chain of 2,000 copies keeps none of the superseded lists alive', async () => {
    let list = Array.from({ length: 50 }, (_, i) => ({ name: `r${i}`, v: 0 }));
    const superseded: WeakRef<object>[] = [];
    for (let i = 1; i <= 2000; i++) {
      superseded.push(new WeakRef(list));
      const next = list.slice();
      const at = i % list.length;
      next[at] = { name: next[at].name, v: i };
      noteCopy(list, next, [at]);
      list = next;
    }
    assert.equal(copyOf(list)?.from, superseded[superseded.length - 1].deref(), 'the newest copy still knows its source');
    await new Promise((r) => setImmediate(r));
    gc();
    const alive = superseded.filter((w) => w.deref() !== undefined).length;
    assert.ok(alive === 0, `${alive} of 2000 superseded lists still reachable`);
    assert.equal(copyOf(list), undefined, 'with its source gone, the copy no longer claims one');
  });
});
