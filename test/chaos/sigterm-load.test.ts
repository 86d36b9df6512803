import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CHAOS_FULL, chaosScale, reportChaos } from '../support/chaos.js';
import { exitOf, timedRequest, type Timed } from '../support/chaos-replica.js';
import { ControlPlaneProcess } from '../support/control-plane.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

/*
 * Chaos (issue 16): SIGTERM under write load. One control plane on
 * PostgreSQL; many clients write on keep-alive connections, half of the
 * writes multi-resource applies (a service, two endpoints and a route in one
 * transaction), the others single creates and patches; then SIGTERM.
 * Pass: in-flight requests finish (every response that started is complete:
 * 2xx, or a clean 503), no write is half-applied (after a restart on the same
 * database every 2xx write is there, every apply is all or nothing, the change
 * log has no gaps), and the process exits within SHUTDOWN_TIMEOUT_MS.
 */

const SHUTDOWN_TIMEOUT_MS = 5000;
const WORKERS = chaosScale(32, 8);
/** How long the load runs before the signal. */
const LOAD_MS = chaosScale(5000, 2500);

interface Write {
  op: 'apply' | 'create' | 'patch';
  /** The resources it writes, as API paths. */
  paths: string[];
  sentAt: number;
  r: Timed;
}

const groupDocs = (g: string) => [
  { kind: 'Service', name: g, labels: { load: 'apply' }, spec: { protocol: 'grpc', port: 50051 } },
  { kind: 'Endpoint', name: `${g}-a`, service: g, spec: { address: '127.0.0.1', port: 1001 } },
  { kind: 'Endpoint', name: `${g}-b`, service: g, spec: { address: '127.0.0.2', port: 1002 } },
  { kind: 'Route', name: g, spec: { hosts: [`${g}.load`], rules: [{ match: { pathPrefix: '/' }, backends: [{ service: g, weight: 100 }] }] } },
];
const groupPaths = (g: string) => [`/api/v1/services/${g}`, `/api/v1/services/${g}/endpoints/${g}-a`, `/api/v1/services/${g}/endpoints/${g}-b`, `/api/v1/routes/${g}`];

describe('chaos: SIGTERM under write load', { timeout: chaosScale(600000, 180000) }, () => {
  let db: TestDatabase;
  let cp: ControlPlaneProcess;
  let again: ControlPlaneProcess | undefined;
  const env = () => ({ DATABASE_URL: db.url, SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), REPLICA_ID: 'sigterm' });

  before(async () => {
    db = await createTestDatabase();
    cp = await ControlPlaneProcess.create(env());
    await cp.start();
  });
  after(async () => {
    await cp?.kill();
    await again?.kill();
    await db?.drop();
  });

  it('in-flight requests finish, no write is half-applied, exit within SHUTDOWN_TIMEOUT_MS', async () => {
    const writes: Write[] = [];
    let signalled = 0;
    let inFlight = 0;
    const worker = async (w: number) => {
      const mine: string[] = [];
      for (let n = 0; ; n++) {
        let write: Omit<Write, 'r' | 'sentAt'>;
        let send: () => Promise<Timed>;
        if (n % 2 === 0) {
          const g = `g-${w}-${n}`;
          write = { op: 'apply', paths: groupPaths(g) };
          send = () => timedRequest(cp.base, 'POST', '/api/v1/apply', groupDocs(g));
        } else if (n % 4 === 1 || !mine.length) {
          const s = `s-${w}-${n}`;
          mine.push(s);
          write = { op: 'create', paths: [`/api/v1/services/${s}`] };
          send = () => timedRequest(cp.base, 'POST', '/api/v1/services', { kind: 'Service', name: s, spec: { protocol: 'http', port: 8080 } });
        } else {
          const s = mine[n % mine.length];
          write = { op: 'patch', paths: [`/api/v1/services/${s}`] };
          send = () => timedRequest(cp.base, 'PATCH', `/api/v1/services/${s}`, { labels: { n: String(n) } });
        }
        const sentAt = Date.now();
        inFlight++;
        const r = await send();
        inFlight--;
        writes.push({ ...write, sentAt, r });
        // Once the listener is gone, this client stops: nothing more can reach the process.
        if (signalled && r.phase === 'connect') return;
      }
    };
    const workers = Array.from({ length: WORKERS }, (_, w) => worker(w));
    await new Promise((r) => setTimeout(r, LOAD_MS));
    const inFlightAtSignal = inFlight;
    signalled = Date.now();
    const exit = await exitOf(cp, 'SIGTERM', SHUTDOWN_TIMEOUT_MS + 10000);
    const exitMs = Date.now() - signalled;
    await Promise.all(workers);

    const before = writes.filter((x) => x.sentAt < signalled);
    const during = writes.filter((x) => x.sentAt >= signalled);
    const answered = writes.filter((x) => x.r.status !== undefined);
    const ok = answered.filter((x) => x.r.status! >= 200 && x.r.status! < 300);
    const unavailable = answered.filter((x) => x.r.status === 503);
    const other = answered.filter((x) => !ok.includes(x) && !unavailable.includes(x));
    const cut = writes.filter((x) => x.r.phase === 'body');
    const noAnswer = writes.filter((x) => x.r.phase === 'connect' || x.r.phase === 'reset');
    const okAfterSignal = ok.filter((x) => x.r.doneAt >= signalled).length;

    // Restart on the same database and read back what was written.
    again = await ControlPlaneProcess.create(env());
    await again.start();
    const exists = new Map<string, boolean>();
    const check = async (p: string) => {
      if (!exists.has(p)) {
        const r = await again!.http('GET', p);
        assert.ok(r.status === 200 || r.status === 404, `${p}: ${r.status} ${r.text}`);
        exists.set(p, r.status === 200);
      }
      return exists.get(p)!;
    };
    const lost: string[] = [];
    const half: string[] = [];
    // A connection reset before any response is fine for a request never read; one that was applied is an in-flight request cut off.
    const unanswered: string[] = [];
    for (const x of writes) {
      const there: boolean[] = [];
      for (const p of x.paths) there.push(await check(p));
      if (x.r.status !== undefined && x.r.status >= 200 && x.r.status < 300 && !there.every(Boolean)) lost.push(`${x.op} ${x.paths[0]}: answered ${x.r.status}, missing after restart`);
      if (x.r.phase === 'reset' && x.op !== 'patch' && there.some(Boolean)) unanswered.push(`${x.op} ${x.paths[0]}: applied, but the connection was reset before the response (${x.r.error})`);
      if (there.some(Boolean) && !there.every(Boolean)) half.push(`${x.op} ${x.paths[0]}: ${x.paths.filter((_, i) => !there[i]).join(', ')} missing`);
    }
    // The change log: revisions 1..head, no gaps, no repeats.
    const revisions: number[] = [];
    let head = 0;
    for (let since = 0; ; ) {
      const page = (await again.http('GET', `/api/v1/changes?since=${since}&limit=1000`)).body;
      head = page.revision;
      revisions.push(...page.changes.map((c: any) => c.revision));
      if (!page.changes.length || page.nextSince >= head) break;
      since = page.nextSince;
    }
    const gaps = revisions.filter((r, i) => r !== i + 1).slice(0, 5);

    assert.equal(exit.code, 0, `a clean exit (code ${exit.code}, signal ${exit.signal})`);
    assert.ok(exitMs <= SHUTDOWN_TIMEOUT_MS, `exited ${exitMs} ms after SIGTERM (SHUTDOWN_TIMEOUT_MS ${SHUTDOWN_TIMEOUT_MS})`);
    assert.ok(before.length >= WORKERS, 'load ran before the signal');
    assert.deepEqual(cut.map((x) => `${x.op} ${x.paths[0]}: ${x.r.error}`).slice(0, 10), [], 'no response cut mid-body');
    assert.deepEqual(unanswered.slice(0, 10), [], 'no applied request went unanswered');
    assert.deepEqual(other.map((x) => `${x.op} ${x.paths[0]}: ${x.r.status} ${x.r.body.slice(0, 200)}`).slice(0, 10), [], 'every response 2xx or 503');
    assert.deepEqual(lost.slice(0, 10), [], 'every write answered 2xx is there after the restart');
    assert.deepEqual(half.slice(0, 10), [], 'every multi-resource write is all or nothing');
    assert.deepEqual(gaps, [], 'the change log has no gaps');
    assert.equal(revisions.length, head, 'the change log ends at the head revision');

    reportChaos({
      scenario: 'SIGTERM under write load',
      criterion: 'In-flight requests finish, no write is half-applied, and the process exits within SHUTDOWN_TIMEOUT_MS.',
      figures: {
        form: CHAOS_FULL ? 'full' : 'short',
        writers: WORKERS,
        loadBeforeSignalMs: LOAD_MS,
        shutdownTimeoutMs: SHUTDOWN_TIMEOUT_MS,
        exitAfterSigtermMs: exitMs,
        exitCode: exit.code ?? -1,
        writes: writes.length,
        multiResourceApplies: writes.filter((x) => x.op === 'apply').length,
        answered2xx: ok.length,
        answered2xxAfterSignal: okAfterSignal,
        answered503: unavailable.length,
        otherStatus: other.length,
        cutMidBody: cut.length,
        refusedAfterListenerClosed: noAnswer.filter((x) => x.r.phase === 'connect').length,
        resetBeforeAnyResponse: noAnswer.filter((x) => x.r.phase === 'reset').length,
        inFlightAtSignal,
        sentAfterSignal: during.length,
        appliedButUnanswered: unanswered.length,
        lostAcknowledgedWrites: lost.length,
        halfAppliedWrites: half.length,
        changeLogRevisions: revisions.length,
        changeLogGaps: gaps.length,
      },
    });
  });
});
