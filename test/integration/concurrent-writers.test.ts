import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type Backend, type TestApp } from '../support/app.js';
import { echoRoute, echoService } from '../support/fixtures.js';

/**
 * Issue 16, "concurrent writers": 50 clients do read-modify-write with If-Match
 * on one Route. Each client keeps its own counter in a label (`c<i>`) and adds
 * one per write, so a lost update shows as a counter below that client's
 * number of successful writes. The npm test form runs 5 s on PostgreSQL; the
 * full form (RELIABILITY_FULL=1) runs 30 s on PostgreSQL and then on the
 * embedded PGlite, left out of npm test because PGlite alone takes 5-15 s to
 * start on a busy 2-core machine. Only counts and equalities are asserted,
 * never durations.
 */
const FULL = process.env.RELIABILITY_FULL === '1';
const DURATION_MS = FULL ? 30_000 : 5_000;
const CLIENTS = 50;
const BACKENDS: Backend[] = FULL ? ['postgres', 'pglite'] : ['postgres'];
const PATH = '/api/v1/routes/echo';

/** One successful PUT: who made it, the version it read and the version it got. */
interface Win {
  client: number;
  read: number;
  version: number;
}

/** A change-log entry as GET /api/v1/changes?withObjects=true returns it (the fields used here). */
interface LoggedChange {
  revision: number;
  kind: string;
  name: string;
  version: number;
  op: string;
  actor: string;
  object: { labels: Record<string, string>; spec: unknown; version: number } | null;
}

const counterKey = (client: number) => `c${client}`;
const actorOf = (client: number) => `writer-${client}`;

/**
 * Replays the route's change log from `initial` and checks it against what
 * the clients saw: one entry per win, versions contiguous from the start
 * version, each entry written by the winner of that version, and each
 * entry's labels equal to the previous ones with only the writer's counter
 * one higher (the spec untouched). Returns the replayed labels.
 */
function replayLog(initial: { labels: Record<string, string>; spec: unknown; version: number }, log: LoggedChange[], wins: Win[]): Record<string, string> {
  const byVersion = new Map(wins.map((w) => [w.version, w]));
  assert.equal(byVersion.size, wins.length, 'two successful writes got the same version');
  assert.equal(log.length, wins.length, 'the change log has one entry per successful write');
  let labels = { ...initial.labels };
  let revision = 0;
  for (const [i, c] of log.entries()) {
    assert.ok(c.revision > revision, 'change-log revisions increase');
    revision = c.revision;
    assert.equal(c.op, 'update');
    assert.equal(c.version, initial.version + i + 1, 'versions are contiguous');
    const win = byVersion.get(c.version);
    assert.ok(win, `version ${c.version} is in the log but no client won it`);
    assert.equal(win.read, c.version - 1, 'the winner read the version just before');
    assert.equal(c.actor, actorOf(win.client), `version ${c.version} was written by its winner`);
    const key = counterKey(win.client);
    labels = { ...labels, [key]: String(Number(labels[key] ?? '0') + 1) };
    assert.ok(c.object, 'an update carries its object');
    assert.deepEqual(c.object.labels, labels, `version ${c.version}: the write changed exactly its writer's counter, by one`);
    assert.deepEqual(c.object.spec, initial.spec, `version ${c.version}: the spec is untouched`);
  }
  return labels;
}

/** Every change after `since`, following nextSince across pages. */
async function changesSince(app: TestApp, since: number): Promise<LoggedChange[]> {
  const out: LoggedChange[] = [];
  for (;;) {
    const page = await app.http('GET', `/api/v1/changes?since=${since}&limit=1000&withObjects=true`);
    assert.equal(page.status, 200, page.text);
    out.push(...page.body.changes);
    if (page.body.changes.length < 1000) return out;
    since = page.body.nextSince;
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : 0;
}

describe('concurrent writers: the replay check catches what it should', () => {
  // The same check the load test runs, on a log with a planted fault, so a check that cannot fail would show here.
  const initial = { labels: {}, spec: { hosts: ['x'] }, version: 1 };
  const entry = (revision: number, version: number, client: number, labels: Record<string, string>): LoggedChange => ({
    revision,
    kind: 'Route',
    name: 'echo',
    version,
    op: 'update',
    actor: actorOf(client),
    object: { labels, spec: initial.spec, version },
  });
  const wins: Win[] = [
    { client: 0, read: 1, version: 2 },
    { client: 1, read: 2, version: 3 },
  ];
  it('accepts a correct log', () => {
    assert.deepEqual(replayLog(initial, [entry(5, 2, 0, { c0: '1' }), entry(6, 3, 1, { c0: '1', c1: '1' })], wins), { c0: '1', c1: '1' });
  });
  it('refuses a lost update (a write built on a stale read)', () => {
    assert.throws(() => replayLog(initial, [entry(5, 2, 0, { c0: '1' }), entry(6, 3, 1, { c1: '1' })], wins), /exactly its writer's counter/);
  });
  it('refuses two winners of one version, a gap in versions, and a write by the wrong client', () => {
    assert.throws(() => replayLog(initial, [entry(5, 2, 0, { c0: '1' })], [wins[0], { ...wins[1], version: 2 }]), /same version/);
    assert.throws(() => replayLog(initial, [entry(5, 2, 0, { c0: '1' }), entry(6, 4, 1, { c0: '1', c1: '1' })], wins), /contiguous/);
    assert.throws(() => replayLog(initial, [entry(5, 2, 1, { c0: '1' }), entry(6, 3, 1, { c0: '1', c1: '1' })], wins), /written by its winner/);
  });
});

for (const backend of BACKENDS) {
  describe(`concurrent writers on ${backend}: ${CLIENTS} clients, read-modify-write with If-Match for ${DURATION_MS / 1000} s`, () => {
    let app: TestApp;

    before(async () => {
      app = await startTestApp(backend);
      const r = await app.http('POST', '/api/v1/apply', [echoService(), echoRoute()]);
      assert.equal(r.status, 200, r.text);
    });
    after(async () => {
      await app?.stop();
    });

    it('exactly one winner per version, no lost update, and the change log replays to the final state', async () => {
      const start = await app.http('GET', PATH);
      assert.equal(start.status, 200, start.text);
      const since = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision as number;
      const initial = { labels: start.body.labels as Record<string, string>, spec: start.body.spec, version: start.body.version as number };

      const wins: Win[] = [];
      const successes = new Array<number>(CLIENTS).fill(0);
      const unexpected: string[] = [];
      const putMs: number[] = [];
      let conflicts = 0;
      let requests = 0;
      const t0 = performance.now();
      const deadline = t0 + DURATION_MS;

      const client = async (i: number) => {
        const key = counterKey(i);
        while (performance.now() < deadline) {
          const got = await app.http('GET', PATH);
          requests++;
          if (got.status !== 200) {
            unexpected.push(`GET ${got.status}: ${got.text.slice(0, 200)}`);
            continue;
          }
          const etag = got.headers.get('etag');
          if (etag !== `"${got.body.version}"`) unexpected.push(`GET: ETag ${etag} for version ${got.body.version}`);
          const labels = { ...got.body.labels, [key]: String(Number(got.body.labels[key] ?? '0') + 1) };
          const body = { kind: 'Route', name: 'echo', labels, spec: got.body.spec };
          const t = performance.now();
          const put = await app.http('PUT', PATH, body, { 'If-Match': etag!, 'X-Switchyard-Actor': actorOf(i) });
          putMs.push(performance.now() - t);
          requests++;
          if (put.status === 200) {
            successes[i]++;
            wins.push({ client: i, read: got.body.version, version: put.body.version });
            if (put.headers.get('etag') !== `"${put.body.version}"`) unexpected.push(`PUT: ETag ${put.headers.get('etag')} for version ${put.body.version}`);
          } else if (put.status === 412) {
            conflicts++;
            // A conflict is only right when someone else has moved the route on.
            if (!(put.body.currentVersion > got.body.version)) unexpected.push(`412 with currentVersion ${put.body.currentVersion} after reading ${got.body.version}`);
          } else {
            unexpected.push(`PUT ${put.status}: ${put.text.slice(0, 200)}`);
          }
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
      const seconds = (performance.now() - t0) / 1000;

      const sorted = [...putMs].sort((a, b) => a - b);
      const perClient = [...successes].sort((a, b) => a - b);
      console.log(
        `# concurrent writers (${backend}, ${CLIENTS} clients, ${seconds.toFixed(1)} s): ${wins.length} successful writes (${(wins.length / seconds).toFixed(1)}/s), ` +
          `${conflicts} conflicts (412, ${((100 * conflicts) / Math.max(1, wins.length + conflicts)).toFixed(1)} % of PUTs), ${requests} requests (${(requests / seconds).toFixed(0)}/s), ` +
          `PUT p50 ${percentile(sorted, 50).toFixed(1)} ms p99 ${percentile(sorted, 99).toFixed(1)} ms, per-client successes min ${perClient[0]} median ${perClient[CLIENTS >> 1]} max ${perClient[CLIENTS - 1]}`,
      );

      assert.deepEqual(unexpected, [], 'no 5xx, no status other than 200 and 412, ETags match versions');
      // Contention actually happened, or this would prove nothing about If-Match.
      assert.ok(wins.length > 0 && conflicts > 0, `wins ${wins.length}, conflicts ${conflicts}`);

      // Exactly one winner per version, and the versions won are contiguous.
      const versions = wins.map((w) => w.version).sort((a, b) => a - b);
      assert.deepEqual(versions, Array.from({ length: wins.length }, (_, k) => initial.version + 1 + k));
      for (const w of wins) assert.equal(w.version, w.read + 1, 'a winner moves the route on by exactly one version');

      const final = await app.http('GET', PATH);
      assert.equal(final.body.version, initial.version + wins.length, 'successes = final version − initial version');
      // No lost update: every client's counter equals its number of successful writes.
      for (let i = 0; i < CLIENTS; i++) assert.equal(Number(final.body.labels[counterKey(i)] ?? '0'), successes[i], `client ${i}'s counter`);
      assert.deepEqual(final.body.spec, initial.spec);

      // The final state equals the replay of the change log.
      const log = (await changesSince(app, since)).filter((c) => c.kind === 'Route' && c.name === 'echo');
      const replayed = replayLog(initial, log, wins);
      assert.deepEqual(final.body.labels, replayed);
      const last = log[log.length - 1].object!;
      assert.deepEqual({ labels: last.labels, spec: last.spec, version: last.version }, { labels: final.body.labels, spec: final.body.spec, version: final.body.version });
    });
  });
}
