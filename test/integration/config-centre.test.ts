import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { badRequestViolations } from '../../src/common/grpc-errors.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { configsClient, unary } from '../support/grpc.js';

const BASE = '/api/v1/configs/prod/orders';
const yaml = (flag: boolean, pool = 10) => `feature:\n  newCheckout: ${flag}\npool:\n  size: ${pool}\n`;

/** Reads a gRPC Watch stream into a list, until closed. */
function grpcWatch(client: any, req: object) {
  const got: any[] = [];
  const call = client.Watch(req);
  const waiters: (() => void)[] = [];
  let synced = 0;
  call.on('data', (u: any) => {
    if (u.synced) return void synced++;
    got.push(u);
    for (const w of waiters.splice(0)) w();
  });
  call.on('error', () => undefined);
  return {
    got,
    call,
    synced: () => synced,
    async next(n: number, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (got.length < n) {
        if (Date.now() > deadline) throw new Error(`got ${got.length} updates, wanted ${n}: ${JSON.stringify(got)}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
      return got.slice(0, n);
    },
    /** Waits until the latest update satisfies `ok`. */
    async until(ok: (u: any) => boolean, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!got.length || !ok(got[got.length - 1])) {
        if (Date.now() > deadline) throw new Error(`no such update: ${JSON.stringify(got)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

describe('config centre (REST, gRPC, long poll, SSE against PostgreSQL)', () => {
  let app: TestApp;
  let client: any;
  before(async () => {
    app = await startTestApp('postgres', { XDS_DEBOUNCE_QUIET_MS: '10' });
    client = configsClient(app.grpcPort);
  });
  after(async () => {
    client?.close();
    await app?.stop();
  });

  it('PUT creates and replaces; every change is a revision; history, diff and rollback', async () => {
    const c1 = await app.http('PUT', `${BASE}/checkout.yaml`, { spec: { format: 'yaml', content: yaml(false) } }, { 'x-switchyard-actor': 'alice' });
    assert.equal(c1.status, 200, c1.text);
    assert.equal(c1.body.version, 1);
    assert.equal(c1.headers.get('etag'), '"1"');
    assert.deepEqual([c1.body.namespace, c1.body.group, c1.body.name], ['prod', 'orders', 'checkout.yaml']);
    assert.deepEqual(c1.body.status.revisions, { content: 1 });
    const same = await app.http('PUT', `${BASE}/checkout.yaml`, { spec: { format: 'yaml', content: yaml(false) } });
    assert.equal(same.body.version, 1, 'an identical write is not a revision');
    await app.http('PUT', `${BASE}/checkout.yaml`, { spec: { format: 'yaml', content: yaml(true) } }, { 'x-switchyard-actor': 'bob' });
    const c3 = await app.http('PUT', `${BASE}/checkout.yaml`, { labels: { team: 'pay' }, spec: { format: 'yaml', content: yaml(true, 20) } });
    assert.equal(c3.body.version, 3);

    const h = await app.http('GET', `${BASE}/checkout.yaml/history`);
    assert.equal(h.status, 200, h.text);
    assert.deepEqual(h.body.items.map((i: any) => [i.revision, i.op, i.actor]), [[3, 'update', 'anonymous'], [2, 'update', 'bob'], [1, 'create', 'alice']]);
    assert.equal(h.body.items[2].size, Buffer.byteLength(yaml(false)));
    const page = await app.http('GET', `${BASE}/checkout.yaml/history?limit=2`);
    assert.equal(page.body.nextBefore, 2);
    assert.deepEqual((await app.http('GET', `${BASE}/checkout.yaml/history?limit=2&before=2`)).body.items.map((i: any) => i.revision), [1]);
    const r1 = await app.http('GET', `${BASE}/checkout.yaml/history/1`);
    assert.equal(r1.body.spec.content, yaml(false));

    const d = await app.http('GET', `${BASE}/checkout.yaml/diff?from=1&to=3`);
    assert.equal(d.status, 200, d.text);
    assert.match(d.body.diff, /-  newCheckout: false\n\+  newCheckout: true/);
    assert.match(d.body.diff, /-  size: 10\n\+  size: 20/);
    assert.equal((await app.http('GET', `${BASE}/checkout.yaml/diff?from=1`)).body.to, 3);
    assert.equal((await app.http('GET', `${BASE}/checkout.yaml/diff?from=9`)).status, 404);

    const rb = await app.http('POST', `${BASE}/checkout.yaml/rollback`, { revision: 1 });
    assert.equal(rb.status, 200, rb.text);
    assert.equal(rb.body.version, 4);
    assert.equal(rb.body.spec.content, yaml(false));
    assert.deepEqual(rb.body.labels, { team: 'pay' }, 'labels are not part of a revision\'s content');
    assert.deepEqual(rb.body.status.revisions, { content: 4 });

    const list = await app.http('GET', '/api/v1/configs?namespace=prod');
    assert.deepEqual(list.body.items.map((i: any) => `${i.group}/${i.name}`), ['orders/checkout.yaml']);
    assert.deepEqual((await app.http('GET', '/api/v1/configs?namespace=staging')).body.items, []);

    // Deleted and written again: revisions go on, they are never reused.
    assert.equal((await app.http('DELETE', `${BASE}/checkout.yaml`)).status, 200);
    assert.equal((await app.http('GET', `${BASE}/checkout.yaml`)).status, 404);
    const again = await app.http('POST', '/api/v1/configs', { namespace: 'prod', group: 'orders', name: 'checkout.yaml', spec: { format: 'yaml', content: yaml(true) } });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.body.version, 6);
    // And apply takes configs like any kind.
    const ap = await app.http('POST', '/api/v1/apply', [{ kind: 'Config', namespace: 'prod', group: 'orders', name: 'limits.json', spec: { format: 'json', content: '{"rps": 100}' } }]);
    assert.equal(ap.status, 200, ap.text);
    assert.deepEqual(ap.body.results.map((r: any) => [r.kind, r.namespace, r.group, r.name, r.result]), [['Config', 'prod', 'orders', 'limits.json', 'created']]);
  });

  it('bad input is 400/413 or INVALID_ARGUMENT with the field named, and nothing is stored', async () => {
    const before = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
    const cases: [string, string, unknown, number, string, RegExp][] = [
      ['PUT', '/api/v1/configs/prod/orders/bad.yaml', { spec: { format: 'yaml', content: 'a: 1\nb: [1, 2\nc: 3\n' } }, 400, 'spec.content', /^line \d+: /],
      ['PUT', '/api/v1/configs/prod/orders/bad.json', { spec: { format: 'json', content: '{\n  "a": 1,\n  "b": }\n' } }, 400, 'spec.content', /^line 3: /],
      ['PUT', '/api/v1/configs/prod/orders/bad.props', { spec: { format: 'properties', content: 'a=1\n=oops\n' } }, 400, 'spec.content', /^line 2: /],
      ['PUT', '/api/v1/configs/prod/orders/big.txt', { spec: { format: 'text', content: 'x'.repeat(1024 * 1024 + 1) } }, 413, 'spec.content', /1 MiB/],
      ['PUT', '/api/v1/configs/Prod_Env/orders/a.yaml', { spec: { format: 'yaml', content: 'a: 1' } }, 400, 'namespace', /DNS-1123/],
      ['PUT', '/api/v1/configs/prod/orders/a.yaml', { spec: { format: 'toml', content: 'a = 1' } }, 400, 'spec.format', /yaml, json, properties, text/],
      ['PUT', '/api/v1/configs/prod/orders/a.yaml', { spec: { format: 'yaml', content: 'a: 1', gray: { content: 'a: 2', target: { labels: 'env in (gray' } } } }, 400, 'spec.gray.target.labels', /./],
      ['PUT', '/api/v1/configs/prod/orders/a.yaml', { spec: { format: 'yaml', content: 'a: 1', gray: { content: 'a: 2', target: {} } } }, 400, 'spec.gray.target', /labels, percent/],
      ['PUT', '/api/v1/configs/prod/orders/a.yaml', { spec: { format: 'yaml', content: 'a: 1', gray: { content: 'a: [', target: { percent: 10 } } } }, 400, 'spec.gray.content', /^line 1: /],
      ['POST', '/api/v1/configs', { group: 'orders', name: 'x', spec: { format: 'text', content: '' } }, 400, 'namespace', /required/],
      ['GET', '/api/v1/configs/watch?namespace=prod&group=orders&known=a:x', undefined, 400, 'known', /name:revision/],
      ['GET', '/api/v1/configs/watch?namespace=prod&group=orders&labels=env', undefined, 400, 'labels', /key=value/],
    ];
    for (const [method, path, body, status, field, message] of cases) {
      const res = await app.http(method, path, body);
      assert.equal(res.status, status, `${method} ${path}: ${res.text.slice(0, 300)}`);
      const v = res.body.violations.find((x: any) => x.field === field);
      assert.ok(v, `${path}: ${field} not named in ${JSON.stringify(res.body.violations)}`);
      assert.match(v.message, message);
    }
    assert.equal((await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision, before, 'nothing was written');

    const invalid = (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT;
    const err = await unary(client, 'Get', { key: { namespace: 'Prod', group: 'orders', name: 'a' } }).catch((e) => e);
    assert.ok(invalid(err));
    assert.deepEqual(badRequestViolations(err).map((v: any) => v.field), ['key.namespace']);
    const w = grpcWatch(client, { namespace: 'prod', group: 'orders', labels: { 'bad key!': 'x' } });
    const code = await new Promise<grpc.ServiceError>((r) => w.call.on('error', r));
    assert.ok(invalid(code), code.message);
    assert.equal((await app.http('GET', '/api/v1/configs/prod/orders/bad.yaml')).status, 404);
  });

  it('watchers over gRPC, long poll and SSE get each revision, encoded once, and their acks show per instance', async () => {
    await app.http('PUT', `${BASE}/toggles.yaml`, { spec: { format: 'yaml', content: yaml(false) } });
    const g = grpcWatch(client, { namespace: 'prod', group: 'orders', names: ['toggles.yaml'], instanceId: 'grpc-1', labels: { zone: 'a' } });
    const [first] = await g.next(1);
    for (let i = 0; g.synced() === 0; i++) {
      assert.ok(i < 50, 'no synced marker after the initial state');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual([first.name, first.revision, first.content, first.gray, first.deleted], ['toggles.yaml', 1, yaml(false), false, false]);
    // Known at revision 1: the long poll waits.
    const poll = app.http('GET', '/api/v1/configs/watch?namespace=prod&group=orders&names=toggles.yaml&instanceId=poll-1&known=toggles.yaml:1&timeoutMs=10000');
    const sse = await fetch(`${app.base}/api/v1/configs/stream?namespace=prod&group=orders&names=toggles.yaml&instanceId=sse-1`);
    const reader = sse.body!.getReader();
    let sseText = '';
    const readUntil = async (re: RegExp) => {
      while (!re.test(sseText)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`SSE ended: ${sseText}`);
        sseText += Buffer.from(value).toString('utf8');
      }
    };
    await readUntil(/id: toggles\.yaml=1\n/);
    await new Promise((r) => setTimeout(r, 200));
    const metric = async (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec((await app.http('GET', '/metrics')).text)?.[1] ?? 0);
    const [encodes, rebuilds] = [await metric('switchyard_config_encodes_total'), await metric('switchyard_xds_rebuild_seconds_count')];
    const written = await app.http('PUT', `${BASE}/toggles.yaml`, { spec: { format: 'yaml', content: yaml(true) } });
    assert.equal(written.body.version, 2);
    const polled = await poll;
    assert.equal(polled.status, 200, polled.text);
    assert.deepEqual(polled.body.updates.map((u: any) => [u.name, u.revision, u.content]), [['toggles.yaml', 2, yaml(true)]]);
    await g.next(2);
    assert.equal(g.got[1].revision, 2);
    await readUntil(/id: toggles\.yaml=2\n/);
    const ev = /id: toggles\.yaml=2\nevent: config\ndata: (.*)\n/.exec(sseText)!;
    // The bytes every HTTP watcher got are the same encoding: three watchers, one encoding.
    assert.equal(ev[1], JSON.stringify(polled.body.updates[0]));
    assert.equal(await metric('switchyard_config_encodes_total'), encodes + 1);
    // Application config is not routing: no xDS rebuild for it.
    assert.equal(await metric('switchyard_xds_rebuild_seconds_count'), rebuilds);

    // Acks, over gRPC and REST; the instances view shows who applied what.
    await unary(client, 'Ack', { key: { namespace: 'prod', group: 'orders', name: 'toggles.yaml' }, instanceId: 'grpc-1', revision: 2 });
    assert.equal((await app.http('POST', `${BASE}/toggles.yaml/ack`, { instanceId: 'sse-1', revision: 2 })).status, 200);
    assert.equal((await app.http('POST', `${BASE}/toggles.yaml/ack`, { instanceId: 'poll-1', revision: 1, error: 'pool size out of range' })).status, 200);
    assert.equal((await app.http('POST', `${BASE}/toggles.yaml/ack`, { instanceId: 'poll-1', revision: 99 })).status, 400);
    const inst = (await app.http('GET', `${BASE}/toggles.yaml/instances`)).body;
    assert.deepEqual(
      inst.items.map((i: any) => [i.instanceId, i.transport, i.delivered, i.applied ?? null, i.error ?? null]),
      [
        ['grpc-1', 'grpc', 2, 2, null],
        ['poll-1', 'long-poll', 2, null, 'pool size out of range'],
        ['sse-1', 'sse', 2, 2, null],
      ],
    );
    assert.deepEqual(inst.summary, { current: 2, gray: 0, behind: 0, failed: 1 });

    // Resuming with what it holds: nothing unchanged is resent; a deleted config is reported.
    g.call.cancel();
    const resumed = await app.http('GET', '/api/v1/configs/watch?namespace=prod&group=orders&known=toggles.yaml:2,gone.yaml:4&timeoutMs=0');
    assert.deepEqual(resumed.body.updates.map((u: any) => [u.name, u.deleted]).sort(), [['checkout.yaml', false], ['gone.yaml', true], ['limits.json', false]]);
    await reader.cancel();
    // A closed stream leaves the instances view.
    for (let i = 0; ; i++) {
      const ids = (await app.http('GET', `${BASE}/toggles.yaml/instances`)).body.items.map((x: any) => x.instanceId);
      if (!ids.includes('grpc-1') && !ids.includes('sse-1')) break;
      assert.ok(i < 50, `still listed: ${ids}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('gray release by label and by percentage: only the target gets the candidate; promote and abort', async () => {
    await app.http('PUT', `${BASE}/rollout.yaml`, { spec: { format: 'yaml', content: 'mode: old\n' } });
    const grayOne = grpcWatch(client, { namespace: 'prod', group: 'orders', names: ['rollout.yaml'], instanceId: 'i-gray', labels: { env: 'gray' } });
    const plain = grpcWatch(client, { namespace: 'prod', group: 'orders', names: ['rollout.yaml'], instanceId: 'i-plain', labels: { env: 'prod' } });
    await grayOne.next(1);
    await plain.next(1);
    const set = await app.http('PUT', `${BASE}/rollout.yaml/gray`, { content: 'mode: new\n', target: { labels: { env: 'gray' } } });
    assert.equal(set.status, 200, set.text);
    assert.equal(set.body.spec.gray.target.labels, 'env=gray', 'a label map is the selector of its equalities');
    assert.deepEqual(set.body.status.revisions, { content: 1, gray: 2 });
    const [, g2] = await grayOne.next(2);
    assert.deepEqual([g2.revision, g2.content, g2.gray], [2, 'mode: new\n', true]);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(plain.got.length, 1, 'the instance outside the target gets nothing');

    // Get as either instance.
    const asGray = await unary(client, 'Get', { key: { namespace: 'prod', group: 'orders', name: 'rollout.yaml' }, instanceId: 'x', labels: { env: 'gray' } });
    assert.equal(asGray.content, 'mode: new\n');

    // Percentage: 30 % then 50 % over 20 instances; the 30 % stay in. The pick is a stateless hash of
    // config and instance id, so for this config the count is fixed (6, then 9); over all config names
    // 4-8 of 20 happens for about four in five (test/unit/config-centre.test.ts checks the distribution).
    const pct = async (percent: number) => {
      const put = await app.http('PUT', `${BASE}/rollout.yaml/gray`, { content: 'mode: new\n', target: { percent } });
      assert.equal(put.status, 200, put.text);
      const inGray: string[] = [];
      for (let i = 0; i < 20; i++) {
        const u = await unary(client, 'Get', { key: { namespace: 'prod', group: 'orders', name: 'rollout.yaml' }, instanceId: `pod-${i}` });
        if (u.gray) inGray.push(`pod-${i}`);
      }
      return inGray;
    };
    const at30 = await pct(30);
    const at50 = await pct(50);
    assert.ok(at30.length >= 4 && at30.length <= 8, `30 %: ${at30.length} of 20`);
    assert.ok(at30.every((p) => at50.includes(p)), `30 % ${at30} not all in 50 % ${at50}`);
    assert.ok(at50.length > at30.length);
    assert.equal((await app.http('GET', `${BASE}/rollout.yaml`)).body.status.revisions.gray, 2, 'stepping the target keeps the candidate revision');

    const promoted = await app.http('POST', `${BASE}/rollout.yaml/gray/promote`);
    assert.equal(promoted.status, 200, promoted.text);
    assert.equal(promoted.body.spec.content, 'mode: new\n');
    assert.equal(promoted.body.spec.gray, undefined);
    // i-plain may have joined the 50 % step; either way it now holds the promoted content, not as gray.
    await plain.until((u) => u.content === 'mode: new\n' && !u.gray);
    assert.equal((await app.http('POST', `${BASE}/rollout.yaml/gray/promote`)).status, 409);

    // Abort sends the gray instances back.
    await app.http('PUT', `${BASE}/rollout.yaml/gray`, { content: 'mode: newer\n', target: { labels: 'env=gray' } });
    await grayOne.until((u) => u.content === 'mode: newer\n' && u.gray);
    assert.equal((await app.http('DELETE', `${BASE}/rollout.yaml/gray`)).status, 200);
    await grayOne.until((u) => u.content === 'mode: new\n' && !u.gray);
    grayOne.call.cancel();
    plain.call.cancel();
  });
});
