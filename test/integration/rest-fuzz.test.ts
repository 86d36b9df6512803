import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { type FuzzRequest, type OpenApiDocument, type Operation, operationsOf, requestArbitrary, type Schema } from '../support/api-fuzz.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { bringUp, takeDown } from '../support/postgres.js';
import { prng } from '../support/prng.js';
import { type Answer, answerProblem, roundTrip, send, writtenBy } from '../support/rest-fuzz-check.js';

/*
 * REST API fuzzing (issue 16): requests generated from the server's OpenAPI
 * document (every operation, round robin in a seeded order), sent over real
 * HTTP to a control plane on a throwaway PostgreSQL database. Every answer:
 * no 5xx, a 4xx body of the documented shape, answered within a bound that
 * catches a blocked event loop; every accepted write reads back and
 * re-applies unchanged (PUT in JSON or /apply in YAML: same spec, labels and
 * version). Then the database is taken down: 503 is then the only 5xx
 * allowed. The process must survive it all.
 *
 * `npm test` runs a short form with a fixed seed; FUZZ_RUNS and FUZZ_SEED set
 * another (FUZZ_DOWN_RUNS the database-down phase, FUZZ_REPORT a file for the
 * figures). Failing requests are written to a temporary file; saved under
 * test/regressions/rest they are replayed on every `npm test`.
 */

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 16;
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : 500;
const DOWN_RUNS = process.env.FUZZ_DOWN_RUNS ? Number(process.env.FUZZ_DOWN_RUNS) : Math.max(50, Math.round(RUNS / 5));
const REGRESSIONS = join(PACKAGE_ROOT, 'test/regressions/rest');

/** A saved failing case: requests replayed in order against a fresh server, with the statuses they must get. */
interface Regression {
  description: string;
  requests: (Omit<FuzzRequest, 'op' | 'body'> & {
    body?: string;
    /** A body too large to save: `head`, then `count` copies of `item` (`{i}` its index) joined by `sep`, then `tail`. */
    bodyRepeat?: { head: string; item: string; sep: string; tail: string; count: number };
    /** The status it must get (any 4xx when absent, but never a 5xx). */
    status?: number;
    /** A bound on the answer's time, for requests that once blocked the event loop (generous: it catches minutes, not a slow machine). */
    maxMs?: number;
  })[];
}

function regressionBody(r: Regression['requests'][number]): string | undefined {
  const rep = r.bodyRepeat;
  if (rep) return rep.head + Array.from({ length: rep.count }, (_, i) => rep.item.replaceAll('{i}', String(i))).join(rep.sep) + rep.tail;
  return r.body;
}

/** Per-case seed: a case replays alone from (seed, index), whatever came before it. */
const caseSeed = (seed: number, i: number) => (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) | 0;

interface Stats {
  requests: number;
  byStatus: Record<string, number>;
  byOp: Record<string, number>;
  roundTrips: number;
  roundTripSkips: Record<string, number>;
  maxMs: number;
  /** Statuses an operation answered but does not document (reported, not failed). */
  undocumented: Record<string, number>;
  failures: { case: string; problem: string; request: FuzzRequest }[];
}

const newStats = (): Stats => ({ requests: 0, byStatus: {}, byOp: {}, roundTrips: 0, roundTripSkips: {}, maxMs: 0, undocumented: {}, failures: [] });

describe('REST API fuzzing', () => {
  let app: TestApp;
  let doc: OpenApiDocument;
  let ops: Operation[];
  const crashes: unknown[] = [];
  const onCrash = (e: unknown) => crashes.push(e);

  before(async () => {
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    app = await startTestApp('postgres');
    doc = (await app.http('GET', '/api/docs-json')).body;
    ops = operationsOf(doc);
  });
  after(async () => {
    await app?.stop();
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
  });

  const http = async (method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> =>
    send(app.base, { op: `${method} ${path}`, method, path, headers, ...(body !== undefined ? { body } : {}) }, false);

  /** Runs `runs` generated cases; `dbDown` allows 503 and skips the round trip. */
  async function fuzz(stats: Stats, seed: number, runs: number, dbDown: boolean): Promise<void> {
    const arbs = new Map(ops.map((op) => [op.id, requestArbitrary(doc, op)]));
    const rand = prng(seed);
    let order: Operation[] = [];
    for (let i = 0; i < runs; i++) {
      if (!order.length) order = [...ops].sort(() => rand() - 0.5);
      const op = order.pop()!;
      const req = fc.sample(arbs.get(op.id)!, { seed: caseSeed(seed, i), numRuns: 1 })[0];
      const at = `${seed}:${i}`;
      // Long runs leave a trace of their progress (the figures so far), in case they are cut off.
      if (process.env.FUZZ_REPORT && i % 2000 === 1999) writeFileSync(`${process.env.FUZZ_REPORT}.progress.json`, JSON.stringify({ seed, dbDown, cases: i + 1, requests: stats.requests, byStatus: stats.byStatus, failures: stats.failures.length, roundTrips: stats.roundTrips, maxMs: Math.round(stats.maxMs) }));
      const a = await send(app.base, req, op.streaming);
      stats.requests++;
      stats.byOp[op.id] = (stats.byOp[op.id] ?? 0) + 1;
      const key = a.held ? 'held' : a.cutOff ? 'cut off over the limit' : String(a.status);
      stats.byStatus[key] = (stats.byStatus[key] ?? 0) + 1;
      stats.maxMs = Math.max(stats.maxMs, a.ms);
      const documented = doc.paths[op.path][op.method.toLowerCase()].responses[String(a.status)];
      if (!documented && !a.held && !a.cutOff) stats.undocumented[`${op.id} ${a.status}`] = (stats.undocumented[`${op.id} ${a.status}`] ?? 0) + 1;
      const problem = answerProblem(a, dbDown, doc, (documented?.content?.['application/json'] as { schema?: Schema } | undefined)?.schema);
      if (problem) stats.failures.push({ case: at, problem, request: req });
      if (dbDown) continue;
      for (const w of writtenBy(req, a)) {
        const rt = await roundTrip(http, w.ref, w.written, i % 2 === 1);
        stats.requests += 3;
        stats.roundTrips++;
        if (!rt.ok) stats.failures.push({ case: at, problem: `round trip: ${rt.problem}`, request: req });
        else if (rt.skipped) stats.roundTripSkips[rt.skipped] = (stats.roundTripSkips[rt.skipped] ?? 0) + 1;
      }
    }
  }

  function report(name: string, stats: Stats, ms: number): void {
    const summary = { phase: name, seed: SEED, cases: stats.requests, ms: Math.round(ms), maxAnswerMs: Math.round(stats.maxMs), byStatus: stats.byStatus, roundTrips: stats.roundTrips, roundTripSkips: stats.roundTripSkips, undocumented: stats.undocumented, failures: stats.failures.length, operations: Object.keys(stats.byOp).length };
    console.log(`rest-fuzz ${JSON.stringify(summary)}`);
    if (process.env.FUZZ_REPORT) writeFileSync(`${process.env.FUZZ_REPORT}.${name}.json`, JSON.stringify({ ...summary, byOp: stats.byOp, failures: stats.failures.map((f) => ({ ...f, request: { ...f.request, body: f.request.body?.slice(0, 2000) } })) }, null, 1));
    if (stats.failures.length) {
      const file = join(mkdtempSync(join(tmpdir(), 'rest-fuzz-')), `${name}.json`);
      writeFileSync(file, JSON.stringify(stats.failures, null, 1));
      const distinct = [...new Map(stats.failures.map((f) => [`${f.request.op} ${f.problem.slice(0, 80)}`, f])).values()];
      assert.fail(`${stats.failures.length} failures (seed ${SEED}, all in ${file}); distinct:\n${distinct.slice(0, 15).map((f) => `${f.case} ${f.request.method} ${f.request.path.slice(0, 120)}: ${f.problem.slice(0, 300)}`).join('\n')}`);
    }
  }

  it('replays the saved regressions', async () => {
    for (const file of readdirSync(REGRESSIONS).filter((f) => f.endsWith('.json')).sort()) {
      const r: Regression = JSON.parse(readFileSync(join(REGRESSIONS, file), 'utf8'));
      for (const [i, q] of r.requests.entries()) {
        const body = regressionBody(q);
        const a = await send(app.base, { op: `${q.method} ${q.path}`, method: q.method, path: q.path, headers: q.headers ?? {}, ...(body !== undefined ? { body } : {}) }, false);
        const problem = answerProblem(a, false);
        assert.equal(problem, undefined, `${file} request ${i} (${r.description}): ${problem}`);
        if (q.status !== undefined) assert.equal(a.status, q.status, `${file} request ${i}: ${a.text.slice(0, 300)}`);
        if (q.maxMs !== undefined) assert.ok(a.ms < q.maxMs, `${file} request ${i}: answered after ${Math.round(a.ms)} ms`);
        else assert.ok(a.status >= 400 && a.status < 500, `${file} request ${i}: expected a 4xx, got ${a.status} ${a.text.slice(0, 300)}`);
      }
    }
  });

  it(`answers ${RUNS} generated requests over every operation without a 5xx, with documented 4xx bodies, and round trips what it accepts (seed ${SEED})`, async () => {
    const stats = newStats();
    const start = performance.now();
    await fuzz(stats, SEED, RUNS, false);
    report('up', stats, performance.now() - start);
    if (RUNS >= ops.length) assert.equal(Object.keys(stats.byOp).length, ops.length, 'every operation of the OpenAPI document was fuzzed');
    assert.ok(stats.roundTrips > 0, 'some generated writes were accepted and round-tripped');
    assert.deepEqual(crashes, []);
  });

  it(`while PostgreSQL is down answers ${DOWN_RUNS} generated requests with no 5xx but 503, and recovers`, async () => {
    await takeDown(app.db!);
    const stats = newStats();
    const start = performance.now();
    try {
      await fuzz(stats, SEED + 1, DOWN_RUNS, true);
    } finally {
      await bringUp(app.db!);
    }
    report('down', stats, performance.now() - start);
    assert.ok((stats.byStatus['503'] ?? 0) > 0, 'the database outage was seen');
    let ready = 0;
    for (let i = 0; i < 100 && ready !== 200; i++) {
      ready = (await http('GET', '/ready')).status;
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ready, 200, 'ready again once the database is back');
    const svc = await http('POST', '/api/v1/services', JSON.stringify({ kind: 'Service', name: 'fuzz-after', spec: { protocol: 'grpc', port: 1 } }), { 'content-type': 'application/json' });
    assert.equal(svc.status, 201, `writes work again: ${svc.status} ${svc.text.slice(0, 300)}`);
    assert.deepEqual(crashes, []);
  });
});
