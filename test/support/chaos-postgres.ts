import assert from 'node:assert/strict';
import { TYPE } from '../../src/translate/envoy-types.js';
import type { HttpResult } from './app.js';
import type * as grpc from '@grpc/grpc-js';
import { fleetResources, type HasHttp, nacks, sleep, SteadyCalls, until } from './chaos-etcd.js';
import { FailoverAdsClient } from './chaos-replica.js';
import { type EchoBackend, say } from './echo-backends.js';
import { echoEndpoint, echoRoute, echoService } from './fixtures.js';
import { eventually, useXds, xdsClient } from './xds-client.js';

/*
 * Shared pieces of the PostgreSQL chaos scenarios (issue 16): PostgreSQL
 * stopped, and a partition between one replica and PostgreSQL. The writes
 * they count are durable endpoints of the `fleet` service (fake addresses,
 * never called), so every acknowledged write is visible both in the REST
 * API of each replica and in a proxy's EDS for `fleet/v1`.
 */

/** The registry both scenarios start from: echo (called by the steady calls) and fleet, on the `edge` listener. */
export const seedResources = (v1: EchoBackend, v2: EchoBackend) => [
  echoService(),
  echoEndpoint('echo-1', 'v1', v1.port),
  echoEndpoint('echo-2', 'v2', v2.port),
  echoRoute(50, 50),
  ...fleetResources(['echo', 'fleet']),
];

/** A durable fleet endpoint named `name` at a fake address derived from `i`. */
export function fleetEndpoint(name: string, i: number) {
  return { name, spec: { address: `10.90.${Math.floor(i / 250)}.${(i % 250) + 1}`, port: 8080, labels: { version: 'v1' } } };
}

export const addressOf = (e: ReturnType<typeof fleetEndpoint>) => `${e.spec.address}:${e.spec.port}`;

/** The fleet endpoints a replica lists (names, sorted), or undefined while it answers anything but 200. */
export async function listedFleet(app: HasHttp): Promise<string[] | undefined> {
  const r = await app.http('GET', '/api/v1/services/fleet/endpoints?limit=1000').catch(() => undefined);
  return r?.status === 200 ? (r.body.items as { name: string }[]).map((e) => e.name).sort() : undefined;
}

/** The fleet/v1 addresses a raw ADS client holds, sorted. */
export function heldFleet(c: FailoverAdsClient): string[] {
  const eds = c.held.types[TYPE.endpoint].get('fleet/v1')?.body;
  return ((eds?.endpoints ?? []) as any[])
    .flatMap((l) => l.lb_endpoints.map((e: any) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`))
    .sort();
}

/** One write attempted while PostgreSQL was unreachable, and what it got. */
export interface OutageWrite {
  status: number;
  retryAfter: string | null;
  ms: number;
  text: string;
}

/**
 * Tries a registry write every `everyMs` through each of `via` until
 * stopped, and keeps every answer: during an outage each must be a 503 with
 * Retry-After, and none may be acknowledged (if one were, it is returned in
 * `accepted`, to be checked for after recovery like every other).
 */
export class OutageWriter {
  readonly answers: OutageWrite[] = [];
  readonly accepted: ReturnType<typeof fleetEndpoint>[] = [];
  private stopped = false;
  private running?: Promise<void>;

  constructor(
    private readonly via: HasHttp[],
    private readonly prefix: string,
    private readonly firstIndex: number,
    private readonly everyMs = 250,
  ) {}

  start(): void {
    this.running = (async () => {
      for (let i = 0; !this.stopped; i++) {
        const e = fleetEndpoint(`${this.prefix}-${i}`, this.firstIndex + i);
        const t0 = Date.now();
        const r: HttpResult | undefined = await this.via[i % this.via.length].http('POST', '/api/v1/services/fleet/endpoints', e).catch(() => undefined);
        this.answers.push({ status: r?.status ?? 0, retryAfter: r?.headers.get('retry-after') ?? null, ms: Date.now() - t0, text: r?.text.slice(0, 300) ?? 'no answer' });
        if (r && r.status >= 200 && r.status < 300) this.accepted.push(e);
        await sleep(this.everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  /** Answers by status, e.g. `{"503": 40}`. */
  tally(): Record<string, number> {
    const t: Record<string, number> = {};
    for (const a of this.answers) t[a.status] = (t[a.status] ?? 0) + 1;
    return t;
  }

  /** Answers that were not a 503 with Retry-After. */
  wrong(): OutageWrite[] {
    return this.answers.filter((a) => a.status !== 503 || !a.retryAfter);
  }

  /** The slowest answer, ms. */
  slowestMs(): number {
    return Math.max(0, ...this.answers.map((a) => a.ms));
  }
}

/** Any replica process (the REST API and its xDS port). */
type Replica = HasHttp & { xdsPort: number };

/**
 * Seeds the registry through A, then makes `n` fleet writes through A and B
 * in turn (each must be acknowledged): the writes that must survive the fault.
 */
export async function seedAndWrite(a: Replica, b: Replica, backends: EchoBackend[], n: number): Promise<ReturnType<typeof fleetEndpoint>[]> {
  const seed = await a.http('POST', '/api/v1/apply', seedResources(backends[0], backends[1]));
  if (seed.status !== 200) throw new Error(`seed: ${seed.status} ${seed.text}`);
  const acked: ReturnType<typeof fleetEndpoint>[] = [];
  for (let i = 0; i < n; i++) {
    const e = fleetEndpoint(`before-${i}`, i);
    const r = await (i % 2 ? b : a).http('POST', '/api/v1/services/fleet/endpoints', e);
    if (r.status !== 201) throw new Error(`write before the fault: ${r.status} ${r.text}`);
    acked.push(e);
  }
  return acked;
}

/** A SotW and a Delta raw ADS client on each replica, once they hold every address in `addrs`. */
export async function openRawClients(prefix: string, replicas: Record<string, Replica>, addrs: string[], ms = 30_000): Promise<FailoverAdsClient[]> {
  const raw: FailoverAdsClient[] = [];
  for (const [name, p] of Object.entries(replicas)) for (const delta of [false, true]) raw.push(new FailoverAdsClient(`${prefix}-${name}-${delta ? 'delta' : 'sotw'}`, [p.xdsPort], delta));
  try {
    await until(() => raw.every((c) => sameList(heldFleet(c), addrs)), ms, 'raw clients hold every fleet endpoint', () => raw.map((c) => [c.id, heldFleet(c).length]));
  } catch (e) {
    for (const c of raw) c.close();
    throw e;
  }
  return raw;
}

export const sameList = (x: string[] | undefined, y: string[]) => JSON.stringify(x) === JSON.stringify(y);

/**
 * Waits (≤ `ms`) until both replicas list exactly the acknowledged writes and
 * every raw client holds exactly their addresses: "0 lost writes".
 */
export function converged(raw: FailoverAdsClient[], replicas: HasHttp[], acked: ReturnType<typeof fleetEndpoint>[], ms: number, what: string): Promise<number> {
  const names = acked.map((e) => e.name).sort();
  const addrs = acked.map(addressOf).sort();
  return until(
    async () => {
      if (!raw.every((x) => sameList(heldFleet(x), addrs))) return false;
      for (const r of replicas) if (!sameList(await listedFleet(r), names)) return false;
      return true;
    },
    ms,
    what,
    () => raw.map((x) => [x.id, heldFleet(x).length]),
  );
}

/** The end-of-scenario checks: nothing ever removed, never an inconsistent snapshot, 0 failed calls, 0 NACKs. */
export async function finalChecks(raw: FailoverAdsClient[], steady: SteadyCalls, callsDuring: number, replicas: HasHttp[]): Promise<void> {
  for (const x of raw) {
    assert.deepEqual(x.removed, [], `${x.id}: nothing removed`);
    assert.deepEqual(x.inconsistent(), [], `${x.id}: never an inconsistent snapshot`);
    assert.deepEqual(x.errors, []);
  }
  assert.equal(steady.failures.length, 0, `steady calls: ${steady.failures.slice(0, 3)}`);
  assert.ok(steady.ok > callsDuring, 'steady calls went on after the fault');
  for (const [i, r] of replicas.entries()) assert.equal(await nacks(r), 0, `NACKs on replica ${i}`);
}

/** A grpc-js-xds client of `echo` through the xDS server at `xdsPort`, once a call works, making steady calls. */
export async function steadyCallsVia(xdsPort: number, nodeId: string): Promise<{ client: grpc.Client; steady: SteadyCalls }> {
  useXds(xdsPort, nodeId);
  const client = xdsClient('echo');
  await eventually(async () => void (await say(client)), 30_000);
  const steady = new SteadyCalls(client);
  steady.start();
  return { client, steady };
}
