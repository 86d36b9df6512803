import { TYPE } from '../../src/translate/envoy-types.js';
import type { HttpResult } from './app.js';
import { fleetResources, type HasHttp, sleep } from './chaos-etcd.js';
import type { FailoverAdsClient } from './chaos-replica.js';
import type { EchoBackend } from './echo-backends.js';
import { echoEndpoint, echoRoute, echoService } from './fixtures.js';

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
