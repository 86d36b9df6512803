import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Logger } from '@nestjs/common';
import { CompactedError } from '../../src/coordination/coordination.js';
import { CoordinationMetrics, type RelistReason } from '../../src/coordination/coordination-metrics.js';
import { Election } from '../../src/coordination/election.js';
import { EtcdCoordination, isCompaction } from '../../src/coordination/etcd-coordination.js';
import { PrefixMirror } from '../../src/coordination/prefix-mirror.js';
import { TcpProxy, until } from '../support/chaos-etcd.js';
import { TestEtcd } from '../support/etcd.js';

/** The counter's value for one prefix and reason (undefined when the sample does not exist). */
async function relists(m: CoordinationMetrics, prefix: string, reason: RelistReason): Promise<number | undefined> {
  return (await m.relists.get()).values.find((v) => v.labels.prefix === prefix && v.labels.reason === reason)?.value;
}

/*
 * A reader reaches etcd through a TcpProxy that the test partitions, while a
 * writer changes keys and compacts the history past everything the reader saw.
 */
describe('etcd compaction while a reader is cut off', { timeout: 120_000 }, () => {
  let etcd: TestEtcd;
  let proxy: TcpProxy;
  let writer: EtcdCoordination;
  let reader: EtcdCoordination;
  let mirror: PrefixMirror | undefined;
  let election: Election | undefined;
  const prefix = `/mirror-test/${Math.random().toString(36).slice(2)}/`;

  before(async () => {
    etcd = await TestEtcd.start();
    proxy = await TcpProxy.start(etcd.clientPort);
    writer = new EtcdCoordination([etcd.endpoint]);
    reader = new EtcdCoordination([proxy.endpoint]);
  });

  after(async () => {
    mirror?.stop();
    await election?.stop();
    await reader?.close();
    await writer?.close();
    await proxy?.close();
    await etcd?.stop();
  });

  it('classifies only compaction as compaction (the messages etcd3 produces)', () => {
    // What etcd3 emits for a watch etcd cancelled with compact_revision and no cancel_reason.
    assert.equal(isCompaction(new Error('Watcher canceled: ')), true);
    assert.equal(isCompaction(new Error('etcdserver: mvcc: required revision has been compacted')), true);
    for (const m of ['Watcher canceled: etcdserver: permission denied', 'rpc error: code = Canceled desc = context canceled', '1 CANCELLED: Cancelled on client', 'watch ended', '14 UNAVAILABLE: No connection established'])
      assert.equal(isCompaction(new Error(m)), false, m);
  });

  it('a watch etcd cancels for compaction, cancelled again by its owner, does not crash the process, and the other watches on the stream go on', async () => {
    const own = new EtcdCoordination([etcd.endpoint]);
    try {
      const live: string[] = [];
      const liveErrors: Error[] = [];
      const liveWatch = own.watch(`${prefix}live/`, (await own.list(`${prefix}live/`)).revision + 1, { event: (e) => live.push(e.kv.key), error: (e) => liveErrors.push(e) });
      // Once it has delivered an event the live watch is in step with etcd, so the compaction below cannot touch it.
      await own.put(`${prefix}live/first`, '0');
      await until(() => live.length === 1, 10_000, 'the live watch is established');
      const first = await own.put(`${prefix}old/1`, 'a');
      await etcd.compact(await own.put(`${prefix}old/2`, 'b'));
      const err = await new Promise<Error>((resolve) => {
        const w = own.watch(`${prefix}old/`, first, { event: () => undefined, error: (e) => (resolve(e), w.cancel()) });
        setTimeout(() => resolve(new Error('no error within 10 s')), 10_000).unref();
      });
      assert.ok(err instanceof CompactedError, err.message);
      // Before the fix the dropped watcher was cancelled: etcd answered for a watch id etcd3 had forgotten, and etcd3 threw from its stream handler.
      await new Promise((r) => setTimeout(r, 1000));
      await own.put(`${prefix}live/x`, '1');
      await until(() => live.length === 2, 10_000, 'the live watch still delivers');
      assert.deepEqual(liveErrors, []);
      liveWatch.cancel();
    } finally {
      await own.close();
    }
  });

  it('a partition alone resumes the watch (no re-list); compaction during a partition gives one re-list, reason compacted, and an exact copy', async () => {
    const metrics = new CoordinationMetrics();
    const copy = new Map<string, string>();
    let resets = 0;
    mirror = new PrefixMirror(
      reader,
      prefix,
      {
        reset: (kvs) => {
          resets++;
          copy.clear();
          for (const kv of kvs) copy.set(kv.key, kv.value);
        },
        event: (e) => (e.type === 'put' ? copy.set(e.kv.key, e.kv.value) : copy.delete(e.kv.key)),
      },
      new Logger('PrefixMirrorTest'),
      metrics,
    );
    assert.equal(await relists(metrics, prefix, 'compacted'), 0, 'the sample exists at 0 before any re-list');
    assert.equal(await relists(metrics, prefix, 'error'), 0);
    for (let i = 0; i < 10; i++) await writer.put(`${prefix}k${i}`, `v${i}`);
    await mirror.start();
    await writer.put(`${prefix}live`, 'x');
    await until(() => copy.get(`${prefix}live`) === 'x', 10_000, 'the live event');
    assert.equal(resets, 1, 'the first listing');

    const same = async () => {
      const { kvs } = await writer.list(prefix);
      return JSON.stringify([...copy].sort()) === JSON.stringify(kvs.map((kv) => [kv.key, kv.value]));
    };

    // 1. Partition, changes, heal, no compaction: the watch resumes from its revision; nothing is listed again.
    proxy.partition();
    await writer.put(`${prefix}k0`, 'changed');
    await writer.delete(`${prefix}k1`);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(copy.get(`${prefix}k0`), 'v0', 'the partition is real: the change has not arrived');
    proxy.heal();
    await until(same, 30_000, 'the copy after the plain partition', () => [...copy]);
    assert.equal(resets, 1, 'no re-list without compaction');
    assert.equal(await relists(metrics, prefix, 'compacted'), 0);
    assert.equal(await relists(metrics, prefix, 'error'), 0);

    // 2. Partition, changes, compaction past everything the reader saw, heal: one re-list, reason compacted.
    proxy.partition();
    for (let i = 2; i < 6; i++) await writer.delete(`${prefix}k${i}`);
    for (let i = 0; i < 5; i++) await writer.put(`${prefix}new${i}`, `n${i}`);
    const head = await writer.put(`${prefix}k6`, 'changed');
    await etcd.compact(head);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(copy.has(`${prefix}new0`), false, 'the partition is real');
    proxy.heal();
    await until(same, 30_000, 'the copy after the compaction', () => [...copy]);
    assert.equal(resets, 2, 'exactly one re-list');
    assert.equal(await relists(metrics, prefix, 'compacted'), 1);
    assert.equal(await relists(metrics, prefix, 'error'), 0);

    // The new watch is live from the re-list's revision.
    await writer.put(`${prefix}after`, 'y');
    await until(same, 10_000, 'a change after the re-list');
    assert.equal(resets, 2);
  });

  it('the election watches its key again once after a compaction, not on every campaign (it read the key at a revision, not at its modRevision)', async () => {
    const key = `${prefix}leader`;
    election = new Election(reader, key, 'cut-off', 10);
    election.start();
    await until(() => election!.isLeader, 10_000, 'leading');
    proxy.partition();
    for (let i = 0; i < 10; i++) await writer.put(`${prefix}other/${i}`, 'x');
    await etcd.compact(await writer.put(`${prefix}other/last`, 'y'));
    proxy.heal();
    // The re-watch after the compaction campaigns once (a create and a read); give that time to happen.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(election.isLeader, true);
    const ranges = await etcd.metric('etcd_mvcc_range_total');
    await new Promise((r) => setTimeout(r, 3000));
    // Before the fix it watched from the key's old modRevision: compacted, campaign again after 500 ms, forever (about 6 reads in 3 s).
    assert.equal((await etcd.metric('etcd_mvcc_range_total')) - ranges, 0, 'reads of etcd in 3 quiet seconds');
    assert.equal(election.isLeader, true);
    // The watch is live: when the key goes, the election takes it again.
    await writer.delete(key);
    await until(async () => (await writer.get(key)) !== undefined, 10_000, 'the key taken again after its delete');
    assert.equal(JSON.parse((await writer.get(key))!.value).id, 'cut-off');
  });
});
