import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatError, parseContent, violationOf } from '../../src/common/config-format.js';
import { effectiveFor, grayBucket, inGray, type Instance } from '../../src/config-centre/gray.js';
import type { ConfigSpec, Resource } from '../../src/model/resources.js';
import { parseLabelSelector } from '../../src/registry/label-selector.js';

/*
 * The pure parts of the config centre: checking and parsing content by
 * format, and picking the instances of a gray release. (fast-check is not a
 * dependency: the properties are checked with plain loops over many inputs.)
 */

const lineOf = (format: string, content: string) => formatError(format, content)?.line;

describe('config content: formatError', () => {
  it('accepts what parses, and text is anything', () => {
    assert.equal(formatError('json', '{"a": [1, {"b": null}], "c": "d"}'), undefined);
    assert.equal(formatError('json', '\n  42\n'), undefined);
    assert.equal(formatError('yaml', 'a: 1\nb:\n  - 1\n  - 2\nc: {d: e}\n'), undefined);
    assert.equal(formatError('yaml', 'a: 1\n---\nb: 2\n'), undefined, 'several documents');
    assert.equal(formatError('yaml', ''), undefined);
    assert.equal(formatError('properties', 'a=1\n# comment\n! comment\n\nb: 2\nflag\nlong=one \\\n  two\n'), undefined);
    assert.equal(formatError('properties', ''), undefined);
    assert.equal(formatError('text', '{{{ [[[ : = \\'), undefined);
  });

  it('JSON: the 1-based line of the first syntax error, wherever V8 says it is', () => {
    assert.deepEqual(formatError('json', '{\n  "a": 1,\n  "b": }\n'), { line: 3, message: 'unexpected "}"' });
    assert.equal(lineOf('json', '{\n  "a": 1,\n  "b": 2,\n}\n'), 4, 'a trailing comma: the error is at the }');
    assert.equal(lineOf('json', '[1,\n2,\n"x\n"]'), 3, 'a raw newline inside a string');
    assert.equal(lineOf('json', '{"a": 1}\n\nx'), 3, 'garbage after the value');
    assert.equal(lineOf('json', '\n\n  tru'), 3);
    assert.equal(lineOf('json', '{\n  "a": "\\q"\n}'), 2, 'a bad escape');
    assert.equal(lineOf('json', '{\n  "a": "\\u12G4"\n}'), 2, 'a bad unicode escape');
    assert.equal(lineOf('json', '{\n  a: 1\n}'), 2, 'an unquoted key');
    assert.equal(lineOf('json', '[\n  1,\n  -\n]'), 3, 'a bad number');
    assert.equal(lineOf('json', '[\n  01\n]'), 2, 'a leading zero');
    assert.equal(lineOf('json', '\r\n\r\n{]'), 3, 'CRLF line ends count once');
    // A premature end: the line the input ends on.
    assert.deepEqual(formatError('json', ''), { line: 1, message: 'unexpected end of input' });
    assert.equal(lineOf('json', '{\n  "a": 1'), 2);
    assert.equal(lineOf('json', '{\n  "a": [1,\n'), 3);
    // The message is V8's, without its character offset.
    const e = formatError('json', '{\n  "a": 1\n  "b": 2\n}')!;
    assert.equal(e.line, 3);
    assert.doesNotMatch(e.message, / in JSON at position \d+/);
  });

  it('JSON: the line matches the offset JSON.parse itself reports, over many broken inputs', () => {
    const good = '{\n  "name": "orders",\n  "pool": {\n    "size": 10,\n    "ids": [1, 2, 3]\n  },\n  "on": true\n}\n';
    let checked = 0;
    for (let cut = 1; cut < good.length; cut++) {
      // Drop one character: where that breaks JSON, V8 says where (when it says), and so must we.
      const broken = good.slice(0, cut) + good.slice(cut + 1);
      let pos: number | undefined;
      try {
        JSON.parse(broken);
        continue;
      } catch (err) {
        const m = /at position (\d+)/.exec((err as Error).message);
        pos = m ? Number(m[1]) : undefined;
      }
      const e = formatError('json', broken);
      assert.ok(e, `no error for ${JSON.stringify(broken)}`);
      assert.ok(e.line >= 1 && e.line <= broken.split('\n').length, `line ${e.line} out of range for ${JSON.stringify(broken)}`);
      if (pos !== undefined) assert.equal(e.line, broken.slice(0, pos).split('\n').length, `${JSON.stringify(broken)}: V8 says offset ${pos}`);
      checked++;
    }
    assert.ok(checked > 20, `only ${checked} broken inputs`);
  });

  it('YAML: the 1-based line the parser stops at, counted over every document', () => {
    // An unclosed flow collection is found where the block goes on: the next line (or the end of the input).
    const seq = formatError('yaml', 'a: 1\nb: [1, 2\nc: 3\n')!;
    assert.equal(seq.line, 3);
    assert.match(seq.message, /Flow sequence .* end with a \]/);
    assert.doesNotMatch(seq.message, /\n/, 'one line of message');
    assert.equal(lineOf('yaml', 'a: 1\nb: [1, 2'), 2, 'unclosed at the end of the input: the last line');
    assert.equal(lineOf('yaml', 'a: 1\nb: [\n  1,\n  2\nc: 3\n'), 5);
    assert.match(formatError('yaml', 'a: 1\nb: {x: 1\nc: 3\n')!.message, /Flow map .* end with a \}/);
    assert.equal(lineOf('yaml', 'a: 1\nb: {x: 1\nc: 3\n'), 3);
    // Lines count from the start of the content, not of the document the error is in.
    assert.equal(lineOf('yaml', 'a: 1\n---\nb: 2\n---\nc: [1\nd: 2\n'), 6);
    assert.equal(lineOf('yaml', 'a: 1\n---\nb: 2\nb: 3\n'), 4, 'a duplicate key in the second document');
    assert.equal(lineOf('yaml', 'a: 1\nb: 2\nb: 3\n'), 3);
    assert.equal(lineOf('yaml', 'a: 1\nb: 2\nc: "open\nd: 4\n'), 5, 'an unterminated quote runs to the end');
    assert.equal(lineOf('yaml', 'a: 1\nb:\n\tc: 2\n'), 3, 'a tab as indentation');
    assert.equal(lineOf('yaml', 'a: 1\r\nb: 2\r\nb: 3\r\n'), 3, 'CRLF');
  });

  it('YAML: a 30,000-key mapping is checked in one pass (the parser\'s own check is quadratic: tens of seconds), and deep nesting is an error, not a throw', () => {
    const keys = Array.from({ length: 30_000 }, (_, i) => `k${i}: ${i}`);
    const start = performance.now();
    assert.equal(formatError('yaml', keys.join('\n')), undefined);
    assert.deepEqual(formatError('yaml', [...keys, 'k17: again'].join('\n')), { line: 30_001, message: 'Map keys must be unique ("k17")' });
    // Generous: it catches the quadratic check (about 20 s here), not a slow machine.
    assert.ok(performance.now() - start < 10_000);
    const deep = formatError('yaml', '['.repeat(100_000));
    assert.ok(deep && deep.line === 1, JSON.stringify(deep));
  });

  it('properties: the 1-based line that is not key=value, key: value, a bare key, a comment or a continuation', () => {
    assert.deepEqual(formatError('properties', 'a=1\n=oops\n'), { line: 2, message: 'expected key=value, got "=oops"' });
    assert.equal(lineOf('properties', 'a=1\n# c\n! d\n\nb: 2\n  : x\n'), 6);
    assert.equal(lineOf('properties', '  =x'), 1);
    // A continued value: the next line belongs to it, whatever it holds; the one after is checked again.
    assert.equal(lineOf('properties', 'a=1 \\\n=still a=value\n=bad\n'), 3);
    assert.equal(lineOf('properties', 'a=1 \\\n  b \\\n  =c\nd=4\n'), undefined, 'two continuations in a row');
    // An even number of trailing backslashes is escaped backslashes, not a continuation.
    assert.equal(lineOf('properties', 'a=1\\\\\n=bad\n'), 2);
    assert.equal(lineOf('properties', 'a=1\\\\\\\n=not bad\n'), undefined, 'three: an escaped one and a continuation');
    // Escaped separators and spaces belong to the key.
    assert.equal(lineOf('properties', 'key\\=with\\:esc\\ aped=v\n'), undefined);
    assert.equal(lineOf('properties', 'a=1\r\n=bad\r\n'), 2, 'CRLF');
    const v = violationOf('spec.content', formatError('properties', 'a=1\nb=2\n=3')!);
    assert.deepEqual(v, { field: 'spec.content', message: 'line 3: expected key=value, got "=3"' });
  });
});

describe('config content: parseContent', () => {
  it('YAML and JSON parse to their values; text is itself', () => {
    assert.deepEqual(parseContent('yaml', 'feature:\n  newCheckout: true\npool: {size: 10}\nids: [1, 2]\n'), { feature: { newCheckout: true }, pool: { size: 10 }, ids: [1, 2] });
    assert.deepEqual(parseContent('json', '{"a": [1, {"b": null}], "c": "d"}'), { a: [1, { b: null }], c: 'd' });
    assert.equal(parseContent('json', '42'), 42);
    assert.equal(parseContent('text', 'anything: {\n'), 'anything: {\n');
  });

  it('properties: separators (=, :, blanks), comments, bare keys, CRLF', () => {
    assert.deepEqual(parseContent('properties', 'a=1\nb = two words\nc: 3\nd 4\n# e=5\n! f=6\n\nflag\nempty=\nurl=http://x/y?a=b\nwin=1\r\nwin2=2\r\n'), {
      a: '1',
      b: 'two words',
      c: '3',
      d: '4',
      flag: '',
      empty: '',
      url: 'http://x/y?a=b',
      win: '1',
      win2: '2',
    });
    assert.deepEqual(parseContent('properties', 'a=1\na=2\n'), { a: '2' }, 'the last one wins');
    assert.deepEqual(parseContent('properties', ''), {});
  });

  it('properties: continuations join lines, dropping the backslash and the next line\'s leading blanks', () => {
    assert.deepEqual(parseContent('properties', 'long=one \\\n    two \\\n\tthree\nnext=x\n'), { long: 'one two three', next: 'x' });
    assert.deepEqual(parseContent('properties', 'list=a,\\\nb,\\\nc\n'), { list: 'a,b,c' });
    assert.deepEqual(parseContent('properties', 'k=v\\\n# not a comment\n'), { k: 'v# not a comment' }, 'a continued line is never a comment');
    assert.deepEqual(parseContent('properties', 'k=v\\\r\n  w\r\n'), { k: 'vw' }, 'CRLF');
    // Escaped backslashes at the end: no continuation.
    assert.deepEqual(Object.keys(parseContent('properties', 'a=x\\\\\nb=y') as object), ['a', 'b']);
    assert.deepEqual(parseContent('properties', 'a=x\\\\\\\ny'), { a: 'x\\y' }, 'an escaped backslash (one backslash once unescaped) and a continuation');
  });

  it('properties: escaped separators, blanks and characters in keys are the characters', () => {
    assert.deepEqual(parseContent('properties', 'key\\=with\\:esc=v\nsp\\ ace=x\nback\\\\slash=y\n'), { 'key=with:esc': 'v', 'sp ace': 'x', 'back\\slash': 'y' });
    assert.deepEqual(parseContent('properties', 'a\\=b\n'), { 'a=b': '' }, 'an escaped separator is not a separator');
  });

  it('properties: escapes in values are unescaped too, as java.util.Properties does', () => {
    assert.deepEqual(parseContent('properties', 'path=c:\\\\dir\neq=a\\=b\ntab=a\\tb\nuni=caf\\u00e9\nk\\tey=1\n'), { path: 'c:\\dir', eq: 'a=b', tab: 'a\tb', uni: 'café', 'k\tey': '1' });
  });
});

describe('gray release: grayBucket', () => {
  it('is deterministic, an integer in 0..9999, and depends on config and instance', () => {
    for (let i = 0; i < 1000; i++) {
      const b = grayBucket('prod/orders/app.yaml', `pod-${i}`);
      assert.ok(Number.isInteger(b) && b >= 0 && b < 10000, `bucket ${b}`);
      assert.equal(grayBucket('prod/orders/app.yaml', `pod-${i}`), b);
    }
    // Known values: a change to the hash would silently move every running gray release.
    // (sha256 of `config\u0000id`, first 4 bytes big-endian, mod 10000.)
    assert.deepEqual(['pod-0', 'pod-1', 'pod-2'].map((id) => grayBucket('prod/orders/app.yaml', id)), [1865, 9464, 2191]);
    // The separator keeps (config, id) pairs apart that concatenate the same.
    assert.notEqual(grayBucket('a/b/c', 'd'), grayBucket('a/b/cd', ''));
  });

  it('is uniform: over 100k instance ids each decile holds 10 % ± 0.5 %', () => {
    const n = 100_000;
    const deciles = new Array<number>(10).fill(0);
    for (let i = 0; i < n; i++) deciles[Math.floor(grayBucket('prod/orders/app.yaml', `10.0.${i >> 8}.${i & 255}:8080#${i}`) / 1000)]++;
    for (const [d, count] of deciles.entries()) assert.ok(Math.abs(count / n - 0.1) <= 0.005, `decile ${d}: ${((100 * count) / n).toFixed(2)} %`);
    // And finer: no percent (of 100) is far off 1 %.
    const percents = new Array<number>(100).fill(0);
    for (let i = 0; i < n; i++) percents[Math.floor(grayBucket('staging/pay/limits.json', `pod-${i}`) / 100)]++;
    for (const [p, count] of percents.entries()) assert.ok(Math.abs(count / n - 0.01) <= 0.002, `percent ${p}: ${count} of ${n}`);
  });

  it('picks independently per config: every gray release does not start with the same instances', () => {
    const n = 50_000;
    let inA = 0;
    let inBoth = 0;
    for (let i = 0; i < n; i++) {
      const a = grayBucket('prod/orders/a.yaml', `pod-${i}`) < 3000;
      const b = grayBucket('prod/orders/b.yaml', `pod-${i}`) < 3000;
      if (a) inA++;
      if (a && b) inBoth++;
    }
    // Independent: 30 % of A's 30 % are in B's too (9 % of all), not all of them.
    assert.ok(Math.abs(inBoth / inA - 0.3) < 0.02, `${inBoth} of ${inA}`);
  });
});

describe('gray release: inGray', () => {
  const CFG = 'prod/orders/app.yaml';
  const pod = (i: number, labels: Record<string, string> = {}): Instance => ({ id: `pod-${i}`, labels });

  it('is monotonic in percent: an instance in at p % is in at every higher percentage', () => {
    for (let i = 0; i < 2000; i++) {
      let wasIn = false;
      for (let percent = 0; percent <= 100; percent++) {
        const now = inGray({ percent }, undefined, CFG, pod(i));
        assert.ok(!wasIn || now, `pod-${i} in at ${percent - 1} % but not at ${percent} %`);
        wasIn = now;
      }
      assert.equal(wasIn, true, 'everyone with an id is in at 100 %');
      assert.equal(inGray({ percent: 0 }, undefined, CFG, pod(i)), false, 'no one at 0 %');
    }
  });

  it('every instance in at 30 % is in at 50 %, and the shares are about right', () => {
    const n = 20_000;
    let at30 = 0;
    let at50 = 0;
    for (let i = 0; i < n; i++) {
      const in30 = inGray({ percent: 30 }, undefined, CFG, pod(i));
      const in50 = inGray({ percent: 50 }, undefined, CFG, pod(i));
      assert.ok(!in30 || in50, `pod-${i} in at 30 % but not at 50 %`);
      if (in30) at30++;
      if (in50) at50++;
    }
    assert.ok(Math.abs(at30 / n - 0.3) < 0.015, `30 %: ${at30} of ${n}`);
    assert.ok(Math.abs(at50 / n - 0.5) < 0.015, `50 %: ${at50} of ${n}`);
    // Exactly the bucket rule: in at p % when the bucket is below p * 100.
    for (let i = 0; i < 1000; i++) assert.equal(inGray({ percent: 37 }, undefined, CFG, pod(i)), grayBucket(CFG, `pod-${i}`) < 3700);
  });

  it('labels and percent together: both must pick the instance', () => {
    const target = { labels: 'env=gray', percent: 50 };
    const selector = parseLabelSelector(target.labels);
    const ids = Array.from({ length: 400 }, (_, i) => i);
    const under = ids.filter((i) => grayBucket(CFG, `pod-${i}`) < 5000);
    const over = ids.filter((i) => grayBucket(CFG, `pod-${i}`) >= 5000);
    assert.ok(under.length > 100 && over.length > 100);
    for (const i of under) {
      assert.equal(inGray(target, selector, CFG, pod(i, { env: 'gray', zone: 'a' })), true, 'labels match and under the percentage');
      assert.equal(inGray(target, selector, CFG, pod(i, { env: 'prod' })), false, 'under the percentage but the labels do not match');
      assert.equal(inGray(target, selector, CFG, pod(i)), false, 'no labels');
    }
    for (const i of over) assert.equal(inGray(target, selector, CFG, pod(i, { env: 'gray' })), false, 'labels match but over the percentage');
    // Labels alone pick by labels only, whatever the bucket.
    const byLabels = { labels: 'env in (gray, canary),zone!=b' };
    const sel = parseLabelSelector(byLabels.labels);
    for (const i of ids) {
      assert.equal(inGray(byLabels, sel, CFG, pod(i, { env: 'canary', zone: 'a' })), true);
      assert.equal(inGray(byLabels, sel, CFG, pod(i, { env: 'canary', zone: 'b' })), false);
    }
  });

  it('an anonymous instance (no id) is never picked by percentage, only by labels', () => {
    const anon: Instance = { id: '', labels: { env: 'gray' } };
    for (const percent of [1, 30, 50, 99, 100]) assert.equal(inGray({ percent }, undefined, CFG, anon), false, `${percent} %`);
    assert.equal(inGray({ labels: 'env=gray', percent: 100 }, parseLabelSelector('env=gray'), CFG, anon), false);
    assert.equal(inGray({ labels: 'env=gray' }, parseLabelSelector('env=gray'), CFG, anon), true);
  });
});

describe('gray release: effectiveFor', () => {
  const configId = 'prod/orders/app.yaml';
  const cfg = (spec: ConfigSpec, version: number, revisions?: { content: number; gray?: number }): Resource<ConfigSpec> => ({
    kind: 'Config',
    namespace: 'prod',
    group: 'orders',
    name: 'app.yaml',
    labels: {},
    spec,
    version,
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    status: revisions ? { revisions } : {},
  });
  const grayInst: Instance = { id: 'pod-1', labels: { env: 'gray' } };
  const plainInst: Instance = { id: 'pod-2', labels: { env: 'prod' } };
  const selector = parseLabelSelector('env=gray');

  it('the gray candidate and its revision for the target, the current content and its revision for the rest', () => {
    // Revision 4 wrote the content, 6 the candidate, 7 only relabelled the config: nobody moves.
    const c = cfg({ format: 'yaml', content: 'mode: old\n', gray: { content: 'mode: new\n', target: { labels: 'env=gray' } } }, 7, { content: 4, gray: 6 });
    assert.deepEqual(effectiveFor(c, selector, configId, grayInst), { revision: 6, gray: true, content: 'mode: new\n' });
    assert.deepEqual(effectiveFor(c, selector, configId, plainInst), { revision: 4, gray: false, content: 'mode: old\n' });
    assert.deepEqual(effectiveFor(c, selector, configId, { id: '', labels: { env: 'gray' } }), { revision: 6, gray: true, content: 'mode: new\n' }, 'by labels, anonymous too');
  });

  it('by percentage: the bucket decides, and an anonymous instance gets the current content', () => {
    const c = cfg({ format: 'text', content: 'old', gray: { content: 'new', target: { percent: 30 } } }, 3, { content: 1, gray: 3 });
    for (let i = 0; i < 200; i++) {
      const e = effectiveFor(c, undefined, configId, { id: `pod-${i}`, labels: {} });
      const inside = grayBucket(configId, `pod-${i}`) < 3000;
      assert.deepEqual(e, inside ? { revision: 3, gray: true, content: 'new' } : { revision: 1, gray: false, content: 'old' });
    }
    assert.deepEqual(effectiveFor(c, undefined, configId, { id: '', labels: {} }), { revision: 1, gray: false, content: 'old' });
  });

  it('without a gray release everyone gets the current content; without status.revisions the version stands in', () => {
    const plain = cfg({ format: 'text', content: 'only' }, 5, { content: 2 });
    assert.deepEqual(effectiveFor(plain, selector, configId, grayInst), { revision: 2, gray: false, content: 'only' });
    const bare = cfg({ format: 'text', content: 'old', gray: { content: 'new', target: { labels: 'env=gray' } } }, 9);
    assert.deepEqual(effectiveFor(bare, selector, configId, grayInst), { revision: 9, gray: true, content: 'new' });
    assert.deepEqual(effectiveFor(bare, selector, configId, plainInst), { revision: 9, gray: false, content: 'old' });
  });
});
