import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CompactedError, type Coordination, type WatchEvent } from '../../src/coordination/coordination.js';
import { Election } from '../../src/coordination/election.js';
import { LeaseRenewer } from '../../src/coordination/lease-renewer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean | Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(25);
  }
}

/** The same behaviour from every coordination backend. */
export function coordinationContract(
  name: string,
  make: () => Promise<{ coord: Coordination; extra?: () => Promise<Coordination>; compact: (revision: number) => Promise<void>; stop: () => Promise<void> }>,
): void {
  describe(`coordination contract: ${name}`, () => {
    let c: Coordination;
    let second: (() => Promise<Coordination>) | undefined;
    let stop: () => Promise<void>;
    let compact: (revision: number) => Promise<void>;
    const p = `/t/${Math.random().toString(36).slice(2)}/`;
    before(async () => {
      const made = await make();
      c = made.coord;
      second = made.extra;
      stop = made.stop;
      compact = made.compact;
    });
    after(async () => stop?.());

    it('puts and gets with increasing revisions; lists a prefix at a revision', async () => {
      const r1 = await c.put(`${p}a`, '1');
      const r2 = await c.put(`${p}b`, '2');
      assert.ok(r2 > r1);
      const a = await c.get(`${p}a`);
      assert.equal(a?.value, '1');
      assert.equal(a?.createRevision, r1);
      const r3 = await c.put(`${p}a`, '3');
      const a2 = (await c.get(`${p}a`))!;
      assert.equal(a2.createRevision, r1, 'create revision stays');
      assert.equal(a2.modRevision, r3);
      const { kvs, revision } = await c.list(p);
      assert.deepEqual(kvs.map((k) => k.key), [`${p}a`, `${p}b`]);
      assert.ok(revision >= r3);
      assert.equal(await c.delete(`${p}a`), true);
      assert.equal(await c.delete(`${p}a`), false);
      assert.equal(await c.get(`${p}a`), undefined);
    });

    it('creates only when absent, and fences writes on a guard key', async () => {
      const rev = await c.create(`${p}lock`, 'me');
      assert.ok(rev);
      assert.equal(await c.create(`${p}lock`, 'you'), undefined);
      assert.equal(await c.putIf({ key: `${p}lock`, createRevision: rev! }, `${p}data`, 'x'), true);
      assert.equal((await c.get(`${p}data`))?.value, 'x');
      assert.equal(await c.putIf({ key: `${p}lock`, createRevision: rev! + 1000 }, `${p}data`, 'y'), false, 'stale token');
      await c.delete(`${p}lock`);
      await c.create(`${p}lock`, 'new leader');
      assert.equal(await c.putIf({ key: `${p}lock`, createRevision: rev! }, `${p}data`, 'z'), false, 'old holder is fenced off');
      assert.equal(await c.putIf({ key: `${p}lock`, createRevision: (await c.get(`${p}lock`))!.createRevision }, `${p}data`, null), true);
      assert.equal(await c.get(`${p}data`), undefined);
    });

    it('watches a prefix from a past revision: history then live events, in order, no gaps', async () => {
      const w = `${p}w/`;
      const start = (await c.put(`${w}1`, 'a')) ;
      await c.put(`${w}2`, 'b');
      await c.delete(`${w}1`);
      const seen: WatchEvent[] = [];
      const watch = c.watch(w, start, { event: (e) => seen.push(e), error: (e) => assert.fail(e) });
      await until(() => seen.length >= 3);
      await c.put(`${w}3`, 'c');
      await c.put(`${p}elsewhere`, 'not watched');
      await until(() => seen.length >= 4);
      await sleep(100);
      watch.cancel();
      assert.deepEqual(seen.map((e) => `${e.type} ${e.kv.key.slice(w.length)}`), ['put 1', 'put 2', 'delete 1', 'put 3']);
      const revs = seen.map((e) => e.kv.modRevision);
      assert.deepEqual(revs, [...revs].sort((a, b) => a - b));
    });

    it('a watch from a compacted revision fails with CompactedError (the caller re-lists)', async () => {
      const w = `${p}c/`;
      const first = await c.put(`${w}1`, 'a');
      const last = await c.put(`${w}2`, 'b');
      await compact(last);
      const err = await new Promise<Error>((resolve) => {
        const watch = c.watch(w, first, { event: () => undefined, error: (e) => resolve(e) });
        setTimeout(() => {
          watch.cancel();
          resolve(new Error('no error'));
        }, 3000).unref();
      });
      assert.ok(err instanceof CompactedError, `${err.constructor.name}: ${err.message}`);
      const { kvs } = await c.list(w);
      assert.deepEqual(kvs.map((k) => k.value), ['a', 'b'], 'a fresh list still has everything');
    });

    it('a passive lease expires without keepalives and takes its keys; keepalives extend it', async () => {
      const lease = await c.grantPassiveLease(2);
      await c.put(`${p}eph`, 'x', { lease });
      const kept = await c.grantPassiveLease(2);
      await c.put(`${p}kept`, 'y', { lease: kept });
      const deleted: string[] = [];
      const watch = c.watch(p, (await c.list(p)).revision + 1, { event: (e) => e.type === 'delete' && deleted.push(e.kv.key), error: () => undefined });
      for (let i = 0; i < 6; i++) {
        assert.ok((await c.keepAlive(kept)) > 0);
        await sleep(500);
      }
      watch.cancel();
      assert.equal(await c.get(`${p}eph`), undefined, 'expired');
      assert.ok(deleted.includes(`${p}eph`));
      assert.equal((await c.get(`${p}kept`))?.value, 'y', 'kept alive past its TTL');
      assert.equal(await c.keepAlive(lease), 0, 'an expired lease reports TTL 0');
      await c.revoke(kept);
      assert.equal(await c.get(`${p}kept`), undefined, 'revoking deletes its keys');
    });

    it('batched heartbeats: few renewals keep a lease alive; when they stop, a second replica sees the key go within TTL + 1 s, not before TTL', async () => {
      const TTL = 3;
      const key = `${p}batched`;
      const lease = await c.grantPassiveLease(TTL);
      await c.put(key, 'x', { lease });
      const other = second ? await second() : c;
      let removedAt = 0;
      const watch = other.watch(p, (await other.list(p)).revision + 1, { event: (e) => e.type === 'delete' && e.kv.key === key && (removedAt ||= Date.now()), error: () => undefined });
      const renewer = new LeaseRenewer(c);
      try {
        // Heartbeats every 50 ms for longer than the TTL: the deferred renewals alone must keep the lease.
        let beats = 0;
        let t0 = 0;
        for (const end = Date.now() + (TTL + 2) * 1000; Date.now() < end; beats++) {
          assert.ok((await renewer.heartbeat(lease, TTL)) > 0, 'a heartbeat found its lease gone');
          t0 = Date.now();
          await sleep(50);
        }
        assert.equal(removedAt, 0, 'expired while heartbeats went on');
        assert.equal((await other.get(key))?.value, 'x');
        assert.ok(renewer.sent * 4 <= beats, `${renewer.sent} renewals for ${beats} heartbeats`);
        await until(() => removedAt > 0, (TTL + 5) * 1000);
        const after = removedAt - t0;
        console.log(`batched heartbeats (${name}): ${beats} heartbeats, ${renewer.sent} renewals; key removed ${after} ms after the last heartbeat (TTL ${TTL} s)`);
        assert.ok(after <= TTL * 1000 + 1000, `removed ${after} ms after the last heartbeat: later than TTL + 1 s`);
        assert.ok(after >= TTL * 1000 - 500, `removed ${after} ms after the last heartbeat: before the TTL`);
        assert.equal(await renewer.heartbeat(lease, TTL), 0, 'a heartbeat after expiry reports TTL 0');
      } finally {
        watch.cancel();
        renewer.close();
        if (other !== c) await other.close();
      }
    });

    it('a held lease is kept alive by the process until revoked', async () => {
      const lease = await c.grantLease(1);
      await c.put(`${p}held`, 'x', { lease: lease.id });
      await sleep(2500);
      assert.equal((await c.get(`${p}held`))?.value, 'x');
      await lease.revoke();
      assert.equal(await c.get(`${p}held`), undefined);
    });

    it('elects one leader, fences the old one, and fails over within the lease TTL', async () => {
      const key = `${p}leader`;
      const other = second ? await second() : c;
      const a = new Election(c, key, 'a', 1);
      const b = new Election(other, key, 'b', 1);
      a.start();
      await until(() => a.isLeader);
      b.start();
      await sleep(300);
      assert.equal(b.isLeader, false);
      await until(() => b.leader()?.id === 'a');
      assert.equal(await a.fencedPut(`${p}singleton`, 'by a'), true);
      assert.equal(await b.fencedPut(`${p}singleton`, 'by b'), false);
      const oldToken = a.fencingToken!;
      const t0 = Date.now();
      await a.stop();
      await until(() => b.isLeader);
      assert.ok(Date.now() - t0 < 2000, 'failover within TTL + 1 s');
      // The old leader's token no longer writes.
      assert.equal(await c.putIf({ key, createRevision: oldToken }, `${p}singleton`, 'late write from a'), false);
      assert.equal((await c.get(`${p}singleton`))?.value, 'by a');
      await b.stop();
      if (other !== c) await other.close();
    });
  });
}
