import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ValidationFailed } from '../../src/common/errors.js';
import type { Change, Resource } from '../../src/model/resources.js';
import { type Committed, RegistryEvents } from '../../src/registry/registry-events.js';
import { REGISTRY_STORE, type RegistryStore } from '../../src/registry/store/registry-store.js';
import { type Backend, type HttpResult, startTestApp, type TestApp } from '../support/app.js';

/**
 * Issue 17: endpoint registrations are group committed (concurrent ones share
 * one transaction). 200 concurrent registrations, valid ones mixed with ones
 * refused for each reason a create can be refused, must each get the answer
 * they get alone, and leave the change log, the committed events (what the
 * change feed applies) and the audit trail exactly as one-at-a-time writes
 * would: one entry per accepted write, revisions gap-free, the final state
 * the replay of the log. Only counts and equalities are asserted.
 */
const N = 200;
const BACKENDS: Backend[] = ['pglite', 'postgres'];

/** What a request is, and what it gets when it runs alone (a duplicate pair: one of the two wins). */
interface Planned {
  i: number;
  path: string;
  body: unknown;
  headers: Record<string, string>;
  expect: number | 'pair';
  pair?: string;
}

const endpoint = (name: string | undefined, i: number, extra: Record<string, unknown> = {}) => ({
  ...(name !== undefined ? { name } : {}),
  labels: { batch: 'yes' },
  spec: { address: `10.1.${i >> 8}.${i & 255}`, port: 8080, weight: 1 + (i % 5), ...extra },
});

function plan(): Planned[] {
  return Array.from({ length: N }, (_, i) => {
    const headers = { 'x-request-id': `gc-${i}` };
    const svc = i % 2 ? 'gc-a' : 'gc-b';
    const at = `/api/v1/services/${svc}/endpoints`;
    switch (i % 10) {
      case 5: // invalid body: 400
        return { i, path: at, body: endpoint(`bad-${i}`, i, { port: 70000 }), headers, expect: 400 };
      case 6: // no such service: 404
        return { i, path: '/api/v1/services/gc-missing/endpoints', body: endpoint(`orphan-${i}`, i), headers, expect: 404 };
      case 7: // exists already: 409
        return { i, path: '/api/v1/services/gc-a/endpoints', body: endpoint('taken', i), headers, expect: 409 };
      case 8: // a create under If-Match: 412 (a well-formed tag) or 400 (a malformed one)
        return { i, path: at, body: endpoint(`cond-${i}`, i), headers: { ...headers, 'if-match': i % 20 === 8 ? '"1"' : 'nonsense' }, expect: i % 20 === 8 ? 412 : 400 };
      case 9: // two creates of one name in the same burst: one 201, one 409
        return { i, path: '/api/v1/services/gc-b/endpoints', body: endpoint(`dup-${Math.floor(i / 20)}`, i), headers, expect: 'pair', pair: `dup-${Math.floor(i / 20)}` };
      case 4: // no name: one is generated
        return { i, path: at, body: endpoint(undefined, i), headers, expect: 201 };
      default:
        return { i, path: at, body: endpoint(`ok-${i}`, i), headers, expect: 201 };
    }
  });
}

/** Every change after `since`, objects included, following nextSince. */
async function changesSince(app: TestApp, since: number): Promise<Change[]> {
  const out: Change[] = [];
  for (;;) {
    const page = await app.http('GET', `/api/v1/changes?since=${since}&limit=1000&withObjects=true`);
    assert.equal(page.status, 200, page.text);
    out.push(...page.body.changes);
    if (page.body.nextSince === since || !page.body.changes.length) return out;
    since = page.body.nextSince;
  }
}

const userView = (r: Resource) => ({ name: r.name, service: r.service, version: r.version, labels: r.labels, spec: r.spec, createdAt: r.createdAt, updatedAt: r.updatedAt });

for (const backend of BACKENDS) {
  describe(`group-committed registrations on ${backend}`, () => {
    let app: TestApp;
    before(async () => {
      app = await startTestApp(backend);
      for (const name of ['gc-a', 'gc-b']) assert.equal((await app.http('POST', '/api/v1/services', { name, spec: { protocol: 'http', port: 80 } })).status, 201);
      assert.equal((await app.http('POST', '/api/v1/services/gc-a/endpoints', endpoint('taken', 0))).status, 201);
    });
    after(async () => {
      await app?.stop();
    });

    it('200 concurrent registrations each get their own answer; log, events and audit are those of one-at-a-time writes', async () => {
      const head = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision as number;
      const events: Committed[] = [];
      const off = app.app.get(RegistryEvents).onCommitted((c) => events.push(c));
      const planned = plan();
      let answers: HttpResult[];
      try {
        answers = await Promise.all(planned.map((p) => app.http('POST', p.path, p.body, p.headers)));
      } finally {
        off();
      }

      // Each answer is the one it gets alone.
      const pairs = new Map<string, number[]>();
      for (const [k, p] of planned.entries()) {
        if (p.expect === 'pair') pairs.set(p.pair!, [...(pairs.get(p.pair!) ?? []), answers[k].status]);
        else assert.equal(answers[k].status, p.expect, `request ${p.i}: ${answers[k].text}`);
      }
      for (const [name, got] of pairs) assert.deepEqual([...got].sort(), [201, 409], `${name}: exactly one of the two creates wins`);
      // The refused ones, sent again one at a time, get the same status and message.
      for (const [k, p] of planned.entries()) {
        if (answers[k].status === 201) continue;
        const alone = await app.http('POST', p.path, p.body, p.headers);
        assert.equal(alone.status, answers[k].status, `request ${p.i} alone: ${alone.text}`);
        assert.equal(alone.body.message, answers[k].body.message, `request ${p.i}: the same message alone`);
      }

      const created = answers.flatMap((a, k) => (a.status === 201 ? [{ p: planned[k], r: a.body as Resource }] : []));
      const log = await changesSince(app, head);
      // One change-log entry per accepted write, revisions gap-free after the head.
      assert.equal(log.length, created.length, 'one change-log entry per accepted write');
      assert.deepEqual(
        log.map((c) => c.revision),
        created.map((_, k) => head + k + 1),
        'revisions are gap-free and increasing',
      );
      const byName = new Map(log.map((c) => [`${c.service}/${c.name}`, c]));
      for (const { p, r } of created) {
        const c = byName.get(`${r.service}/${r.name}`);
        assert.ok(c, `request ${p.i}: ${r.service}/${r.name} is in the log`);
        assert.equal(c.op, 'create');
        assert.equal(c.version, 1);
        assert.deepEqual(c.object, r, `request ${p.i}: the log holds what the response returned`);
      }

      // The committed events (what the change feed applies): one per write, in revision order, equal to the log.
      assert.equal(events.length, created.length, 'one committed event per accepted write');
      assert.deepEqual(
        events.map((e) => e.revision),
        log.map((c) => c.revision),
        'events come in revision order',
      );
      for (const [k, e] of events.entries()) {
        assert.equal(e.changes.length, 1);
        assert.deepEqual(e.changes[0], log[k], `event ${e.revision} is its log entry`);
      }

      // The audit trail: one event per accepted write, carrying the request id of the request that made it.
      const audit = await app.http('GET', '/api/v1/audit?kind=Endpoint&limit=1000');
      assert.equal(audit.status, 200, audit.text);
      const audited = (audit.body.items as { revision: number; requestId?: string; name: string; op: string }[]).filter((a) => a.revision > head);
      assert.equal(audited.length, created.length, 'one audit event per accepted write');
      const requestOf = new Map(created.map(({ p, r }) => [r.name, `gc-${p.i}`]));
      for (const a of audited) {
        assert.equal(a.op, 'create');
        assert.equal(a.requestId, requestOf.get(a.name), `audit of ${a.name}: the writer's request id`);
      }

      // The final state is the replay of the whole change log.
      const replay = new Map<string, Resource>();
      for (const c of await changesSince(app, 0)) {
        if (c.kind !== 'Endpoint') continue;
        const id = `${c.service}/${c.name}`;
        if (c.op === 'delete') replay.delete(id);
        else replay.set(id, c.object!);
      }
      const stored: Resource[] = [];
      for (const svc of ['gc-a', 'gc-b']) {
        const list = await app.http('GET', `/api/v1/services/${svc}/endpoints?limit=1000`);
        assert.equal(list.status, 200, list.text);
        stored.push(...list.body.items);
      }
      const sort = (rs: Resource[]) => rs.map(userView).sort((a, b) => `${a.service}/${a.name}`.localeCompare(`${b.service}/${b.name}`));
      assert.deepEqual(sort(stored), sort([...replay.values()]), 'the registry is the replay of its change log');
      assert.equal(stored.length, created.length + 1, 'the accepted writes and the one made before');
    });

    it('a batch whose statement fails is applied one by one: only the create at fault fails', async () => {
      const store = app.app.get(REGISTRY_STORE) as RegistryStore;
      const head = (await store.changes(0, 1)).revision;
      // The store does not validate: a NUL in jsonb is refused by the database (22P05), failing the batch's INSERT.
      const items = Array.from({ length: 20 }, (_, i) => ({
        actor: 'group-commit-test',
        input: { kind: 'Endpoint' as const, service: 'gc-a', name: `fb-${i}`, labels: {}, spec: { address: i === 10 ? 'a\u0000b' : '10.9.0.1', port: 80 + i } },
        reads: [],
        check: () => undefined,
      }));
      // Submitted together: the first goes alone, the others wait and form one batch.
      const settled = await Promise.allSettled(items.map((item) => store.createGrouped(item)));
      for (const [i, s] of settled.entries()) {
        if (i === 10) assert.ok(s.status === 'rejected' && s.reason instanceof ValidationFailed, `the NUL create is refused as a bad value: ${s.status === 'rejected' ? s.reason : 'created'}`);
        else assert.equal(s.status, 'fulfilled', `create ${i}: ${s.status === 'rejected' ? s.reason : ''}`);
      }
      const log = (await store.changes(head, 1000, { withObjects: true })).changes;
      assert.deepEqual(
        log.map((c) => c.name),
        items.filter((_, i) => i !== 10).map((it) => it.input.name),
        'the others were written, in order',
      );
      assert.deepEqual(
        log.map((c) => c.revision),
        log.map((_, k) => head + k + 1),
        'gap-free',
      );
    });
  });
}
