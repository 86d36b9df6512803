import { createServer, type Server, type Socket, connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { TYPE } from '../../src/translate/envoy-types.js';
import { AdsTestClient, envoyNode } from './ads-client.js';
import type { HttpResult } from './app.js';
import { attempt } from './echo-backends.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `check` to hold; returns how long it took. Bounded by a generous deadline, never by a short sleep. */
export async function until(check: () => boolean | Promise<boolean>, ms: number, what = 'condition', state?: () => unknown): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`${what} not met within ${ms} ms${state ? `: ${JSON.stringify(state()).slice(0, 2000)}` : ''}`);
    await sleep(25);
  }
  return Date.now() - t0;
}

/** Anything with the control plane's REST API (ControlPlaneProcess, TestApp). */
export interface HasHttp {
  http(method: string, path: string, body?: unknown): Promise<HttpResult>;
}

/** NACKs a replica has seen, from /metrics. */
export async function nacks(app: HasHttp): Promise<number> {
  const text = (await app.http('GET', '/metrics')).text;
  return [...text.matchAll(/^switchyard_xds_nacks_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
}

/**
 * The value of one counter/gauge sample on /metrics, e.g. `switchyard_x_total{a="b"}`
 * (labels in the order the replica writes them). A missing sample throws: read
 * as 0 it once made a metric that did not exist look like a measurement.
 */
export async function metric(app: HasHttp, sample: string): Promise<number> {
  const text = (await app.http('GET', '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(sample + ' '));
  if (!line) throw new Error(`no sample ${sample} on /metrics`);
  return Number(line.slice(sample.length + 1));
}

/**
 * A TCP proxy between one replica and etcd that the test can partition:
 * `partition()` cuts every open connection and refuses new ones (the replica
 * sees its etcd connection die, etcd itself stays up), `heal()` lets it
 * through again.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<[Socket, Socket]>();
  private mode: 'open' | 'cut' | 'blackhole' = 'open';
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    let self: TcpProxy | undefined;
    const server = createServer((client) => {
      if (!self || self.mode === 'cut') return void client.destroy();
      self.track(client);
      // A blackhole accepts the connection and then never answers: the client's connect "succeeds".
      if (self.mode === 'blackhole') return void client.resume();
      const upstream = connect(targetPort, targetHost);
      self.track(upstream);
      const pair: [Socket, Socket] = [client, upstream];
      self.pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => (upstream.destroy(), self!.pairs.delete(pair)));
      upstream.on('close', () => client.destroy());
    });
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    self = new TcpProxy(server, port);
    return self;
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    s.on('error', () => undefined);
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resets every open connection and refuses new ones: the peer sees the failure at once. */
  partition(): void {
    this.mode = 'cut';
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.pairs.clear();
  }

  /**
   * Drops every byte, both ways, on open connections and on new ones, without
   * closing anything: a silent firewall or a dead route. Only timeouts on the
   * peer's side can tell. Connections blackholed stay so after heal(), as they
   * would once their bytes are lost.
   */
  blackhole(): void {
    this.mode = 'blackhole';
    for (const [a, b] of this.pairs) {
      a.unpipe(b);
      b.unpipe(a);
      // Keep reading, so the sender's writes "succeed" and vanish.
      a.resume();
      b.resume();
    }
    this.pairs.clear();
  }

  heal(): void {
    this.mode = 'open';
  }

  close(): Promise<void> {
    this.partition();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/**
 * A raw ADS client following EDS for some clusters on one replica. It keeps
 * the latest lb_endpoints per cluster (duplicates kept, to catch them), and
 * every address it ever saw leave a cluster: "0 removed" is checked on that.
 */
export class EdsFollower {
  readonly latest = new Map<string, string[]>();
  /** Per cluster, every endpoint as `address:port health weight`: what two replicas must agree on exactly. */
  readonly detailed = new Map<string, string[]>();
  /** `cluster address` pairs that were in one response and gone from a later one. */
  readonly removed: string[] = [];
  responses = 0;
  private readonly c: AdsTestClient;
  private stopped = false;

  constructor(port: number, id: string, private readonly names: string[]) {
    this.c = new AdsTestClient(port);
    this.c.send({ node: envoyNode(id), type_url: TYPE.endpoint, resource_names: names });
    void this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const r = await this.c.next(60000).catch(() => undefined);
      if (!r || this.stopped) continue;
      this.responses++;
      for (const a of r.resources) {
        const d = decodeResource(a.type_url, a.value) as any;
        const now: string[] = (d.endpoints ?? [])
          .flatMap((l: any) => l.lb_endpoints.map((e: any) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`))
          .sort();
        for (const was of this.latest.get(d.cluster_name) ?? []) if (!now.includes(was)) this.removed.push(`${d.cluster_name} ${was}`);
        this.latest.set(d.cluster_name, now);
        const sa = (e: any) => e.endpoint.address.socket_address;
        this.detailed.set(
          d.cluster_name,
          (d.endpoints ?? []).flatMap((l: any) => l.lb_endpoints.map((e: any) => `${sa(e).address}:${sa(e).port_value} ${e.health_status ?? ''} ${e.load_balancing_weight?.value ?? ''}`)).sort(),
        );
      }
      this.c.send({ type_url: TYPE.endpoint, version_info: r.version_info, response_nonce: r.nonce, resource_names: this.names });
    }
  }

  /** Addresses per cluster, for failure messages. */
  summary(): Record<string, string[]> {
    return Object.fromEntries(this.latest);
  }

  addresses(cluster: string): string[] {
    return this.latest.get(cluster) ?? [];
  }

  has(cluster: string, addr: string): boolean {
    return this.addresses(cluster).includes(addr);
  }

  close(): void {
    this.stopped = true;
    this.c.close();
  }
}

/** Steady calls through a grpc-js-xds client, one after another, until stopped; counts outcomes. */
export class SteadyCalls {
  ok = 0;
  readonly failures: string[] = [];
  private running?: Promise<void>;
  private stopped = false;

  constructor(private readonly client: grpc.Client) {}

  start(): void {
    this.running = (async () => {
      while (!this.stopped) {
        const o = await attempt(this.client, undefined, 5000);
        if (o.server) this.ok++;
        else this.failures.push(`${o.code}: ${o.details}`);
        await sleep(20);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}

/**
 * Heartbeats every heartbeat endpoint in `targets` through one replica, every
 * `everyMs`, like instances do, and keeps the answers it got by status.
 */
export class HeartbeatLoop {
  readonly targets = new Map<string, { service: string; name: string }>();
  readonly statuses = new Map<number, number>();
  /** When the first 200 since `mark()` came back, per endpoint. */
  readonly firstOk = new Map<string, number>();
  private stopped = false;
  private running?: Promise<void>;

  constructor(
    private readonly via: HasHttp,
    private readonly everyMs: number,
  ) {}

  add(service: string, name: string): void {
    this.targets.set(`${service}/${name}`, { service, name });
  }

  drop(service: string, name: string): void {
    this.targets.delete(`${service}/${name}`);
  }

  /** Starts a phase: clears the status tally and the first-200 times. */
  mark(): void {
    this.statuses.clear();
    this.firstOk.clear();
  }

  start(): void {
    this.running = (async () => {
      while (!this.stopped) {
        const round = Date.now();
        await Promise.all(
          [...this.targets].map(async ([k, t]) => {
            const r = await this.via.http('PUT', `/api/v1/services/${t.service}/endpoints/${t.name}/heartbeat`).catch(() => undefined);
            const s = r?.status ?? 0;
            this.statuses.set(s, (this.statuses.get(s) ?? 0) + 1);
            if (s === 200 && !this.firstOk.has(k)) this.firstOk.set(k, Date.now());
          }),
        );
        await sleep(Math.max(0, this.everyMs - (Date.now() - round)));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}

/**
 * A `fleet` service with one subset, routed and on an Envoy listener, so that
 * an Envoy node gets its EDS (`fleet/v1`); with `echo` routed too when given.
 */
export const fleetResources = (routes: string[] = ['fleet']) => [
  { kind: 'Service', name: 'fleet', spec: { protocol: 'grpc', port: 8080, subsets: [{ name: 'v1', labels: { version: 'v1' } }] } },
  { kind: 'Route', name: 'fleet', spec: { hosts: ['fleet'], rules: [{ match: { pathPrefix: '/' }, backends: [{ service: 'fleet', subset: 'v1', weight: 100 }] }] } },
  { kind: 'Listener', name: 'edge', spec: { group: 'default', address: '0.0.0.0', port: 10000, protocol: 'http', routes } },
];

/** A heartbeat endpoint's registration body. */
export const heartbeatBody = (name: string, address: string, port: number, ttlSeconds: number, labels: Record<string, string> = { version: 'v1' }) => ({
  name,
  spec: { address, port, labels, ttlSeconds },
});

/** Retries a write while it answers 503 (coordination or the database coming back); returns the final answer. */
export async function retry503(fn: () => Promise<HttpResult>, ms: number): Promise<HttpResult> {
  const t0 = Date.now();
  for (;;) {
    const r = await fn().catch((e) => ({ status: 0, text: String(e) }) as HttpResult);
    if (r.status !== 503 && r.status !== 0) return r;
    if (Date.now() - t0 > ms) return r;
    await sleep(100);
  }
}
