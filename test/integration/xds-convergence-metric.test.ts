import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TYPE, type TypeUrl } from '../../src/translate/envoy-types.js';
import { AdsTestClient, envoyNode } from '../support/ads-client.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { echoEndpoint, echoRoute, echoService, edgeListener } from '../support/fixtures.js';
import { eventually } from '../support/xds-client.js';

/*
 * switchyard_xds_convergence_seconds counts only ACKs of versions pushed to a
 * stream that already had one of that type; a stream's first version of each
 * type goes to switchyard_xds_initial_sync_seconds, timed from its first
 * request for the type. A proxy connecting long after the last write must not
 * show up as slow convergence. Both histograms are read from a real /metrics
 * scrape, for a raw SotW and a raw Delta ADS client.
 */

/** The four types, with the names an Envoy subscribes to (CDS and LDS wildcard). */
const SUBSCRIPTIONS: [TypeUrl, string, string[]][] = [
  [TYPE.cluster, 'CDS', []],
  [TYPE.endpoint, 'EDS', ['echo/v1', 'echo/v2']],
  [TYPE.listener, 'LDS', []],
  [TYPE.route, 'RDS', ['edge']],
];
const SHORT = SUBSCRIPTIONS.map(([, s]) => s);
/** Longer than any push in this test takes, so an observation that includes it cannot pass for a fast one. */
const GAP_MS = 1500;

type Response = { type_url: string; nonce: string; version_info?: string; system_version_info?: string };
type Family = 'convergence' | 'initial_sync';
/** Count and sum of one histogram family, by type. */
type Reading = Record<Family, Record<string, { count: number; sum: number }>>;

/** The two histograms from a real scrape (0 for a type without a series yet). */
async function read(app: TestApp): Promise<Reading> {
  const res = await app.http('GET', '/metrics');
  assert.equal(res.status, 200);
  const out = { convergence: {}, initial_sync: {} } as Reading;
  for (const f of ['convergence', 'initial_sync'] as const)
    for (const t of SHORT) {
      const v = (series: string) => Number(new RegExp(`^switchyard_xds_${f}_seconds_${series}\\{type="${t}"\\} (\\S+)$`, 'm').exec(res.text)?.[1] ?? 0);
      out[f][t] = { count: v('count'), sum: v('sum') };
    }
  return out;
}

/** Observations (count and sum) added between two readings. */
function added(a: Reading, b: Reading, f: Family): Record<string, { count: number; sum: number }> {
  return Object.fromEntries(SHORT.map((t) => [t, { count: b[f][t].count - a[f][t].count, sum: b[f][t].sum - a[f][t].sum }]));
}
const counts = (d: Record<string, { count: number }>) => Object.fromEntries(Object.entries(d).map(([t, v]) => [t, v.count]));

describe('xDS convergence and initial-sync metrics', () => {
  let app: TestApp;
  const clients: AdsTestClient<Response>[] = [];

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '10' });
    const r = await app.http('POST', '/api/v1/apply', [echoService(), echoEndpoint('echo-1', 'v1'), echoEndpoint('echo-2', 'v2', 50062), echoRoute(), edgeListener()]);
    assert.equal(r.status, 200, r.text);
  });
  after(async () => {
    for (const c of clients) c.close();
    await app?.stop();
  });

  /** Waits until the builder has published the latest revision. */
  async function settle(): Promise<void> {
    const head = (await app.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
    await eventually(async () => assert.equal((await app.http('GET', '/api/v1/proxies')).body.revision, head), 5000, 20);
  }

  /** Waits until the server has taken `n` types' ACKs from proxy `id` (and, given, `type`'s ACK of `version`): the metrics are then final. */
  async function acked(id: string, n: number, type?: string, version?: string): Promise<void> {
    await eventually(async () => {
      const p = (await app.http('GET', '/api/v1/proxies')).body.items.find((x: any) => x.id === id);
      const types = Object.entries<any>(p?.types ?? {});
      assert.equal(types.filter(([, s]) => s.lastAckedVersion && s.lastAckedVersion === s.lastSentVersion).length, n, JSON.stringify(p?.types));
      if (type) assert.equal(p.types[type].lastAckedVersion, version);
    }, 5000, 20);
  }

  for (const delta of [false, true]) {
    it(`${delta ? 'Delta' : 'SotW'}: a late first sync is an initial sync, not convergence; a later change converges once`, async () => {
      // A write, then a long pause: the snapshot the proxy gets was committed GAP_MS before it connects.
      const timeout = delta ? 3000 : 2000;
      assert.equal((await app.http('PATCH', '/api/v1/services/echo', { spec: { connectTimeoutMs: timeout } })).status, 200);
      await settle();
      await new Promise((r) => setTimeout(r, GAP_MS));

      const id = `conv-${delta ? 'delta' : 'sotw'}`;
      const c = new AdsTestClient<Response>(app.xdsPort, delta);
      clients.push(c);
      const names = new Map(SUBSCRIPTIONS.map(([t, , n]) => [t as string, n]));
      const ack = (r: Response) =>
        c.send(delta ? { type_url: r.type_url, response_nonce: r.nonce } : { type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: names.get(r.type_url) });
      const start = await read(app);
      let first = true;
      for (const [type, , resourceNames] of SUBSCRIPTIONS) {
        const node = first ? { node: envoyNode(id) } : {};
        first = false;
        c.send(delta ? { ...node, type_url: type, resource_names_subscribe: resourceNames } : { ...node, type_url: type, resource_names: resourceNames });
        const r = await c.next();
        assert.equal(r.type_url, type);
        ack(r);
        // A request repeating an answered nonce (Envoy sends one with each subscription change) is not another ACK.
        ack(r);
      }
      await c.quiet(300);

      await acked(id, 4);
      const synced = await read(app);
      assert.deepEqual(counts(added(start, synced, 'convergence')), { CDS: 0, EDS: 0, LDS: 0, RDS: 0 }, 'first syncs are not convergence');
      assert.deepEqual(counts(added(start, synced, 'initial_sync')), { CDS: 1, EDS: 1, LDS: 1, RDS: 1 }, 'one initial sync per type');
      // Timed from the subscription, not from the commit GAP_MS earlier.
      for (const [t, v] of Object.entries(added(start, synced, 'initial_sync'))) assert.ok(v.sum < GAP_MS / 1000 / 2, `${t} initial sync took ${v.sum} s`);

      // One endpoint change: one EDS push, ACKed, is one convergence observation.
      assert.equal((await app.http('PATCH', '/api/v1/services/echo/endpoints/echo-1', { spec: { weight: delta ? 3 : 2 } })).status, 200);
      const eds = await c.next();
      assert.equal(eds.type_url, TYPE.endpoint);
      ack(eds);
      ack(eds);
      await c.quiet(300);
      await acked(id, 4, 'EDS', delta ? eds.system_version_info : eds.version_info);
      const converged = await read(app);
      assert.deepEqual(counts(added(synced, converged, 'convergence')), { CDS: 0, EDS: 1, LDS: 0, RDS: 0 }, 'the change converged once, for EDS only');
      const seconds = added(synced, converged, 'convergence').EDS.sum;
      assert.ok(seconds < GAP_MS / 1000 / 2, `convergence of the change took ${seconds} s`);
      assert.deepEqual(counts(added(synced, converged, 'initial_sync')), { CDS: 0, EDS: 0, LDS: 0, RDS: 0 }, 'no further initial sync');
      c.close();
    });
  }
});
