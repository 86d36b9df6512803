import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import type { decodeDeltaResponse, decodeResponse } from '../../tools/xds-wire.js';
import { AdsTestClient, envoyNode, grpcNode } from '../support/ads-client.js';
import { ControlPlaneProcess } from '../support/control-plane.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';
import { request } from '../support/app.js';

/**
 * Issue 16, "restart consistency": a control plane restarted on the same
 * database serves the same xDS versions for the same content, so a proxy
 * that reconnects holding what it had gets nothing pushed. Checked for
 * SotW (per-type version_info) and Delta (per-resource versions), for an
 * Envoy node and a proxyless gRPC node, over a catalogue that uses every
 * policy type whose output does not depend on time or probes. Each run is
 * its own process (build/src/main.js) on the same ports, so nothing held in
 * memory, module state included, survives the restart.
 */

type Sotw = ReturnType<typeof decodeResponse>;
type Delta = ReturnType<typeof decodeDeltaResponse>;
/** What a client holds of one type: its version (SotW) or per-resource versions (Delta), and each resource's bytes. */
interface Held {
  version?: string;
  versions: Record<string, string>;
  bytes: Record<string, string>;
}
type State = Partial<Record<(typeof ORDER)[number], Held>>;

const ORDER = [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route] as const;
const WILDCARD = new Set<string>([TYPE.cluster, TYPE.listener]);
const ENV = { XDS_DEBOUNCE_QUIET_MS: '10', SHUTDOWN_TIMEOUT_MS: '2000' };

const CATALOGUE = `
kind: Policy
name: echo-retry
spec: {type: retry, retry: {attempts: 3, on: [unavailable], backoff: {baseMs: 25, maxMs: 250}}}
---
kind: Policy
name: sticky
spec: {type: loadBalancer, loadBalancer: {algorithm: ringHash, hashOn: {header: x-user}, ringSize: {min: 1024, max: 65536}}}
---
kind: Policy
name: breaker
spec: {type: circuitBreaker, circuitBreaker: {maxConnections: 100, maxRequests: 200, retryBudget: {budgetPercent: 20, minRetryConcurrency: 2}}}
---
kind: Policy
name: ejection
spec: {type: outlierDetection, outlierDetection: {consecutive5xx: 3, intervalMs: 5000, baseEjectionTimeMs: 10000}}
---
kind: Policy
name: limit
spec: {type: rateLimit, rateLimit: {requests: 100, unit: second, burst: 200}}
---
kind: Policy
name: slow
spec: {type: faultInjection, faultInjection: {delay: {fixedMs: 50, percent: 1}}}
---
kind: Policy
name: shop-timeout
spec: {type: timeout, timeout: {requestMs: 1500}}
---
kind: Service
name: otel-collector
spec: {protocol: grpc, port: 4317}
---
kind: Endpoint
name: otel-collector-1
service: otel-collector
spec: {address: 127.0.0.1, port: 4317}
---
kind: Policy
name: edge-traces
spec: {type: tracing, tracing: {collector: {service: otel-collector, timeoutMs: 1000}, serviceName: edge, samplingPercent: 10}}
---
kind: Policy
name: edge-logs
spec: {type: accessLog, accessLog: {sink: stdout, fields: {code: '%RESPONSE_CODE%', ms: '%DURATION%'}}}
---
kind: Service
name: echo
labels: {team: core}
spec:
  protocol: grpc
  port: 50051
  connectTimeoutMs: 1000
  policies: [echo-retry, breaker]
  subsets:
    - {name: v1, labels: {version: v1}}
    - {name: v2, labels: {version: v2}}
---
kind: Endpoint
name: echo-1
service: echo
spec: {address: 127.0.0.1, port: 50061, weight: 1, locality: {region: r1, zone: z1}, labels: {version: v1}}
---
kind: Endpoint
name: echo-2
service: echo
spec: {address: 127.0.0.1, port: 50062, weight: 3, locality: {region: r1, zone: z2}, labels: {version: v2}}
---
kind: Service
name: shop
spec: {protocol: http, port: 8080, policies: [sticky, ejection]}
---
kind: Endpoint
name: shop-1
service: shop
spec: {address: 10.0.0.1, port: 8080, locality: {region: r1, zone: z1}}
---
kind: Endpoint
name: shop-2
service: shop
spec: {address: 10.0.0.2, port: 8080, health: draining, locality: {region: r2, zone: z3}}
---
kind: Route
name: echo
spec:
  hosts: [echo]
  rules:
    - match: {headers: [{name: x-canary, exact: "true"}]}
      backends: [{service: echo, subset: v2, weight: 100}]
    - match: {pathPrefix: /}
      backends:
        - {service: echo, subset: v1, weight: 90}
        - {service: echo, subset: v2, weight: 10}
      timeoutMs: 2000
---
kind: Route
name: shop
spec:
  hosts: [shop, shop.internal]
  policies: [limit, slow, shop-timeout]
  rules:
    - backends: [{service: shop, weight: 1}]
---
kind: Listener
name: edge
spec: {group: default, address: 0.0.0.0, port: 10000, protocol: http, routes: [echo, shop], policies: [edge-traces, edge-logs]}
`;

const nameOf = (a: { type_url: string; value: Uint8Array }) => {
  const d = decodeResource(a.type_url, a.value);
  return (d.name ?? d.cluster_name) as string;
};
const b64 = (v: Uint8Array) => Buffer.from(v).toString('base64');

/** Subscribes to CDS, then EDS for every cluster, LDS, then RDS for every listener, ACKing each; returns what it holds. */
async function sotwState(c: AdsTestClient<Sotw>, node: Record<string, unknown>): Promise<State> {
  const state: State = {};
  let names: string[] = [];
  for (const [i, type] of ORDER.entries()) {
    c.send({ ...(i === 0 ? { node } : {}), type_url: type, ...(WILDCARD.has(type) ? {} : { resource_names: names }) });
    const r = await c.next();
    assert.equal(r.type_url, type);
    c.send({ type_url: type, version_info: r.version_info, response_nonce: r.nonce, ...(WILDCARD.has(type) ? {} : { resource_names: names }) });
    const bytes = Object.fromEntries(r.resources.map((a) => [nameOf(a), b64(a.value)]));
    state[type] = { version: r.version_info, versions: {}, bytes };
    // EDS follows CDS, RDS follows LDS: the names the previous (wildcard) type gave.
    names = Object.keys(bytes).sort();
  }
  assert.ok(state[TYPE.endpoint]!.version && Object.keys(state[TYPE.route]!.bytes).length > 0, 'the catalogue produced endpoints and routes');
  return state;
}

/** The same over Delta: per-resource versions. */
async function deltaState(c: AdsTestClient<Delta>, node: Record<string, unknown>): Promise<State> {
  const state: State = {};
  let names: string[] = [];
  for (const [i, type] of ORDER.entries()) {
    c.send({ ...(i === 0 ? { node } : {}), type_url: type, ...(WILDCARD.has(type) ? {} : { resource_names_subscribe: names }) });
    const r = await c.next();
    assert.equal(r.type_url, type);
    assert.deepEqual(r.removed_resources, []);
    c.send({ type_url: type, response_nonce: r.nonce });
    state[type] = {
      versions: Object.fromEntries(r.resources.map((x) => [x.name, x.version])),
      bytes: Object.fromEntries(r.resources.map((x) => [x.name, b64(x.resource.value)])),
    };
    names = Object.keys(state[type]!.versions).sort();
  }
  return state;
}

/** A SotW client that reconnects saying, per type, the version (and names) it holds. */
function sotwReconnect(port: number, node: Record<string, unknown>, held: State): AdsTestClient<Sotw> {
  const c = new AdsTestClient<Sotw>(port);
  for (const [i, type] of ORDER.entries()) {
    const names = WILDCARD.has(type) ? {} : { resource_names: Object.keys(held[type]!.bytes).sort() };
    c.send({ ...(i === 0 ? { node } : {}), type_url: type, version_info: held[type]!.version, ...names });
  }
  return c;
}

/** A Delta client that reconnects with initial_resource_versions of what it holds. */
function deltaReconnect(port: number, node: Record<string, unknown>, held: State): AdsTestClient<Delta> {
  const c = new AdsTestClient<Delta>(port, true);
  for (const [i, type] of ORDER.entries()) {
    const versions = held[type]!.versions;
    const names = WILDCARD.has(type) ? {} : { resource_names_subscribe: Object.keys(versions).sort() };
    c.send({ ...(i === 0 ? { node } : {}), type_url: type, initial_resource_versions: versions, ...names });
  }
  return c;
}

const NODES = { envoy: envoyNode('restart-envoy'), grpc: grpcNode('restart-grpc') };

describe('restart consistency: equal content gives equal xDS versions after a restart', () => {
  let db: TestDatabase;
  let cp: ControlPlaneProcess | undefined;
  const clients: AdsTestClient<unknown>[] = [];
  const track = <T>(c: AdsTestClient<T>) => (clients.push(c as AdsTestClient<unknown>), c);

  /** Everything a fresh SotW and Delta client of each node kind gets. */
  async function capture(port: number) {
    const out: Record<string, { sotw: State; delta: State }> = {};
    for (const [kind, node] of Object.entries(NODES)) {
      out[kind] = {
        sotw: await sotwState(track(new AdsTestClient<Sotw>(port)), node),
        delta: await deltaState(track(new AdsTestClient<Delta>(port, true)), node),
      };
    }
    return out;
  }

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    for (const c of clients) c.close();
    await cp?.kill('SIGKILL');
    await db?.drop();
  });

  it('a restarted control plane sends the same versions and bytes, and a reconnecting proxy gets no push', async () => {
    cp = await ControlPlaneProcess.create({ ...ENV, DATABASE_URL: db.url });
    await cp.start();
    const applied = await request(cp.base, 'POST', '/api/v1/apply', CATALOGUE, { 'content-type': 'application/yaml' });
    assert.equal(applied.status, 200, applied.text);
    const head = (await cp.http('GET', '/api/v1/changes?since=0&limit=1')).body.revision;
    for (let i = 0; (await cp.http('GET', '/api/v1/proxies')).body.revision !== head; i++) {
      assert.ok(i < 250, 'the builder caught up');
      await new Promise((r) => setTimeout(r, 20));
    }
    const port = cp.xdsPort;
    const beforeRestart = await capture(port);
    for (const c of clients.splice(0)) c.close();
    // A graceful restart: SIGTERM, then a new process on the same database and ports.
    await cp.kill('SIGTERM');
    await cp.start();
    // Proxies reconnect as soon as the control plane is ready, which may be before its first build.
    const reconnected = Object.entries(NODES).flatMap(([kind, node]) => [
      { kind, what: `${kind} SotW`, c: track(sotwReconnect(port, node, beforeRestart[kind].sotw)) as AdsTestClient<unknown> },
      { kind, what: `${kind} Delta`, c: track(deltaReconnect(port, node, beforeRestart[kind].delta)) as AdsTestClient<unknown> },
    ]);
    await Promise.all(
      reconnected.map(({ what, c }) =>
        c.quiet(1000).catch((e: Error) => {
          throw new Error(`${what}: a needless push after the restart: ${e.message}`);
        }),
      ),
    );

    const afterRestart = await capture(port);
    for (const kind of Object.keys(NODES)) {
      for (const protocol of ['sotw', 'delta'] as const) {
        for (const type of ORDER) {
          const was = beforeRestart[kind][protocol][type]!;
          const now = afterRestart[kind][protocol][type]!;
          const at = `${kind} ${protocol} ${type.split('.').pop()}`;
          assert.equal(now.version, was.version, `${at}: version_info`);
          assert.deepEqual(now.versions, was.versions, `${at}: resource versions`);
          assert.deepEqual(now.bytes, was.bytes, `${at}: resource bytes`);
        }
      }
    }

    // The quiet streams are live, not stuck: a real change reaches every one of them.
    const patched = await cp.http('PATCH', '/api/v1/services/echo', { spec: { connectTimeoutMs: 1500 } });
    assert.equal(patched.status, 200, patched.text);
    for (const { kind, what, c } of reconnected) {
      const r = (await c.next().catch((e: Error) => assert.fail(`${what}: ${e.message}`))) as Sotw | Delta;
      assert.equal(r.type_url, TYPE.cluster, `${what}: the change is a CDS push`);
      const held = beforeRestart[kind];
      if ('version_info' in r) assert.notEqual(r.version_info, held.sotw[TYPE.cluster]!.version, `${what}: a new CDS version`);
      else {
        const echoClusters = Object.keys(held.delta[TYPE.cluster]!.versions).filter((n) => n === 'echo' || n.startsWith('echo/'));
        assert.ok(echoClusters.length > 0);
        assert.deepEqual(r.resources.map((x) => x.name).sort(), echoClusters.sort(), `${what}: only the changed clusters`);
      }
    }
  });
});
