import * as grpc from '@grpc/grpc-js';
import type { ChildProcess } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { createServer, type Server, type Socket, connect } from 'node:net';
import { decodeDeltaResponse, decodeResponse, encodeDeltaRequest, encodeRequest } from '../../tools/xds-wire.js';
import { TYPE, type TypeUrl } from '../../src/translate/envoy-types.js';
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { type EncodedResource, inconsistencies, type TypeSnapshot } from '../../src/xds/cache/cache.js';
import type { ControlPlaneProcess } from './control-plane.js';

/*
 * Support for the replica-failover chaos scenario (issue 16): a TCP front
 * that sends each new connection to the first replica that accepts it (what
 * a Kubernetes Service does for a client that can only name one xDS server,
 * like grpc-js-xds, which uses xds_servers[0] only), and a raw ADS client
 * that behaves like Envoy (wildcard CDS and LDS, EDS and RDS for what those
 * name), fails over to the next replica by itself, and checks after every
 * response that what it holds is consistent.
 */

/** A TCP forwarder: each connection goes to the first target port that accepts it. */
export class TcpFailover {
  private readonly sockets = new Set<Socket>();
  /** Connections forwarded, per target port. */
  readonly forwarded = new Map<number, number>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly targets: number[],
  ) {}

  static async start(targets: number[]): Promise<TcpFailover> {
    let self: TcpFailover | undefined;
    const server = createServer((down) => self!.accept(down));
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    self = new TcpFailover(server, port, targets);
    return self;
  }

  private accept(down: Socket): void {
    this.sockets.add(down);
    down.once('close', () => this.sockets.delete(down));
    down.on('error', () => undefined);
    down.pause();
    const tryTarget = (k: number): void => {
      if (k >= this.targets.length || down.destroyed) return void down.destroy();
      const up = connect(this.targets[k], '127.0.0.1');
      let connected = false;
      // Refused before it connected: the next target. After that, the pair goes down together.
      up.on('error', () => (connected ? down.destroy() : tryTarget(k + 1)));
      up.once('connect', () => {
        connected = true;
        this.forwarded.set(this.targets[k], (this.forwarded.get(this.targets[k]) ?? 0) + 1);
        this.sockets.add(up);
        up.once('close', () => {
          this.sockets.delete(up);
          down.destroy();
        });
        down.once('close', () => up.destroy());
        down.pipe(up);
        up.pipe(down);
        down.resume();
      });
    };
    tryTarget(0);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Every string under a key named `key`, anywhere in a decoded resource. */
function stringsUnder(v: unknown, key: string, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) stringsUnder(x, key, out);
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      if (k === key && typeof x === 'string' && x) out.push(x);
      else stringsUnder(x, key, out);
    }
  return out;
}

/** Clusters a route configuration sends to: `cluster` of route actions and mirrors, and weighted clusters' names. */
export function clustersOfRoute(rc: any): string[] {
  const weighted = (rc.virtual_hosts ?? []).flatMap((vh: any) => (vh.routes ?? []).flatMap((r: any) => (r.route?.weighted_clusters?.clusters ?? []).map((c: any) => c.name)));
  return [...new Set([...stringsUnder(rc, 'cluster'), ...weighted])].sort();
}

/** The route configurations a listener's connection managers load over RDS. */
export const routesOfListener = (l: any): string[] => [...new Set(stringsUnder(l, 'route_config_name'))].sort();

/** The EDS name of a cluster, when it is an EDS cluster. */
const edsNameOf = (c: any): string | undefined => (c.type === 'EDS' || c.eds_cluster_config ? c.eds_cluster_config?.service_name || c.name : undefined);

/** One resource a client holds, decoded. */
export interface Held {
  version: string;
  body: any;
}

/** What a proxy holds per type, and the checks a real proxy's config would need to pass. */
export class HeldState {
  readonly types: Record<TypeUrl, Map<string, Held>> = {
    [TYPE.cluster]: new Map(),
    [TYPE.endpoint]: new Map(),
    [TYPE.listener]: new Map(),
    [TYPE.route]: new Map(),
  } as Record<TypeUrl, Map<string, Held>>;

  /** EDS names the held clusters need. */
  edsNames(): string[] {
    return [...new Set([...this.types[TYPE.cluster].values()].map((c) => edsNameOf(c.body)).filter((n): n is string => !!n))].sort();
  }

  /** RDS names the held listeners need. */
  rdsNames(): string[] {
    return [...new Set([...this.types[TYPE.listener].values()].flatMap((l) => routesOfListener(l.body)))].sort();
  }

  /** Drops EDS and RDS resources nothing held uses any more, as Envoy does with a removed cluster or listener. */
  prune(): void {
    const eds = new Set(this.edsNames());
    for (const n of [...this.types[TYPE.endpoint].keys()]) if (!eds.has(n)) this.types[TYPE.endpoint].delete(n);
    const rds = new Set(this.rdsNames());
    for (const n of [...this.types[TYPE.route].keys()]) if (!rds.has(n)) this.types[TYPE.route].delete(n);
  }

  /**
   * What is wrong with the held state, through the cache's own consistency
   * check (src/xds/cache): a route sending to a cluster the proxy lacks,
   * endpoints of no cluster. A listener whose route configuration has not
   * arrived yet is warming, as in Envoy, not inconsistent; so it is left out.
   */
  problems(): string[] {
    const snap = (type: TypeUrl, needs?: (b: any) => string[]): TypeSnapshot => {
      const list = [...this.types[type].entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, h]) => ({ name, needs: needs?.(h.body), owner: { kind: 'Route', name } }) as unknown as EncodedResource);
      return { version: '', resources: new Map(list.map((r) => [r.name, r])), list };
    };
    const types = {
      [TYPE.cluster]: snap(TYPE.cluster),
      [TYPE.endpoint]: snap(TYPE.endpoint),
      [TYPE.listener]: snap(TYPE.listener, (l) => routesOfListener(l).filter((n) => this.types[TYPE.route].has(n))),
      [TYPE.route]: snap(TYPE.route, clustersOfRoute),
    } as Record<TypeUrl, TypeSnapshot>;
    // EDS names equal cluster names here (the check compares names); map each held EDS name to its cluster's.
    const byEds = new Map([...this.types[TYPE.cluster].entries()].map(([n, c]) => [edsNameOf(c.body), n]));
    for (const e of types[TYPE.endpoint].list) (e as { name: string }).name = byEds.get(e.name) ?? e.name;
    types[TYPE.endpoint].resources = new Map(types[TYPE.endpoint].list.map((r) => [r.name, r]));
    return inconsistencies(types).map((i) => i.message);
  }
}

/** One response a client received, with what it held right after applying it. */
export interface Received {
  at: number;
  port: number;
  type: TypeUrl;
  version: string;
  names: string[];
  problems: string[];
}

/** Every resource a proxy holds (`CDS name`), and every endpoint address in its EDS (`EDS cluster address`). */
function heldKeys(held: HeldState): string[] {
  const keys: string[] = [];
  for (const [type, m] of Object.entries(held.types)) for (const n of m.keys()) keys.push(`${SHORT[type]} ${n}`);
  for (const [n, h] of held.types[TYPE.endpoint])
    for (const l of h.body.endpoints ?? []) for (const e of l.lb_endpoints ?? []) keys.push(`EDS ${n} ${e.endpoint?.address?.socket_address?.address}:${e.endpoint?.address?.socket_address?.port_value}`);
  return keys;
}

const SHORT: Record<string, string> = { [TYPE.cluster]: 'CDS', [TYPE.endpoint]: 'EDS', [TYPE.listener]: 'LDS', [TYPE.route]: 'RDS' };

/**
 * A raw ADS client (SotW or Delta) that behaves like Envoy: wildcard CDS and
 * LDS, EDS for the held clusters and RDS for the held listeners' route
 * configurations, an ACK for every response. When its stream fails it opens
 * one to the next replica at once, saying what it holds (SotW version_info,
 * Delta initial_resource_versions), and records every response it gets.
 */
export class FailoverAdsClient {
  readonly held = new HeldState();
  readonly received: Received[] = [];
  /** Stream failures it recovered from, with the port it moved to. */
  readonly failovers: { at: number; from: number; to: number; code: number }[] = [];
  /** Decoding failures (should never happen). */
  readonly errors: string[] = [];
  /** Resources (`CDS name`) and endpoint addresses (`EDS cluster address`) it held and then lost: "0 removed" is checked on it. */
  readonly removed: string[] = [];
  private readonly versions = new Map<TypeUrl, string>();
  private readonly nonces = new Map<TypeUrl, string>();
  private readonly subscribed = new Map<TypeUrl, string[]>();
  private client?: grpc.Client;
  private call?: grpc.ClientDuplexStream<Buffer, Buffer>;
  private target = 0;
  private stopped = false;

  constructor(
    readonly id: string,
    private readonly ports: number[],
    readonly delta: boolean,
  ) {
    this.open();
  }

  /** The replica port the client is connected (or connecting) to. */
  get port(): number {
    return this.ports[this.target];
  }

  /** The version last ACKed per type (SotW version_info, Delta system_version_info). */
  acked(type: TypeUrl): string | undefined {
    return this.versions.get(type);
  }

  private open(): void {
    const port = this.port;
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const method = this.delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources';
    const call = client.makeBidiStreamRequest(`/envoy.service.discovery.v3.AggregatedDiscoveryService/${method}`, (b: Buffer) => b, (b: Buffer) => b, new grpc.Metadata());
    this.client = client;
    this.call = call;
    this.nonces.clear();
    call.on('data', (b: Buffer) => {
      try {
        this.onResponse(port, b);
      } catch (e) {
        this.errors.push(`${(e as Error).message}`);
      }
    });
    call.on('error', () => undefined);
    call.on('status', (s) => {
      if (this.stopped || call !== this.call) return;
      client.close();
      this.target = (this.target + 1) % this.ports.length;
      this.failovers.push({ at: Date.now(), from: port, to: this.port, code: s.code });
      // A refused connection fails fast; do not spin while every replica is down.
      setTimeout(() => this.stopped || this.open(), this.failovers.length > this.ports.length ? 200 : 0);
    });
    const node = { id: this.id, cluster: 'default', user_agent_name: 'envoy', locality: {} };
    let first = true;
    for (const type of [TYPE.cluster, TYPE.listener, TYPE.endpoint, TYPE.route] as TypeUrl[]) {
      const names = type === TYPE.cluster || type === TYPE.listener ? [] : type === TYPE.endpoint ? this.held.edsNames() : this.held.rdsNames();
      if ((type === TYPE.endpoint || type === TYPE.route) && !names.length) continue;
      this.subscribed.set(type, names);
      const withNode = first ? { node } : {};
      first = false;
      if (this.delta) {
        const initial = Object.fromEntries([...this.held.types[type].entries()].map(([n, h]) => [n, h.version]));
        this.write({ ...withNode, type_url: type, resource_names_subscribe: names, initial_resource_versions: initial });
      } else this.write({ ...withNode, type_url: type, resource_names: names, version_info: this.versions.get(type) ?? '' });
    }
  }

  private write(req: Record<string, unknown>): void {
    this.call!.write(this.delta ? encodeDeltaRequest(req) : encodeRequest(req));
  }

  private onResponse(port: number, b: Buffer): void {
    const held = this.held;
    const before = heldKeys(held);
    let type: TypeUrl;
    let version: string;
    let nonce: string;
    let names: string[];
    if (this.delta) {
      const r = decodeDeltaResponse(b);
      type = r.type_url as TypeUrl;
      ({ nonce } = r);
      version = r.system_version_info;
      for (const n of r.removed_resources) held.types[type].delete(n);
      for (const x of r.resources) held.types[type].set(x.name, { version: x.version, body: decodeResource(type, x.resource.value) });
      names = r.resources.map((x) => x.name);
    } else {
      const r = decodeResponse(b);
      type = r.type_url as TypeUrl;
      ({ nonce } = r);
      version = r.version_info;
      const decoded = r.resources.map((a) => decodeResource(type, a.value) as any);
      const m = held.types[type];
      // LDS and CDS are full state; EDS and RDS may carry only what changed.
      if (type === TYPE.cluster || type === TYPE.listener) m.clear();
      for (const d of decoded) m.set(type === TYPE.endpoint ? d.cluster_name : d.name, { version, body: d });
      names = decoded.map((d) => (type === TYPE.endpoint ? d.cluster_name : d.name));
    }
    held.prune();
    const after = new Set(heldKeys(held));
    for (const k of before) if (!after.has(k)) this.removed.push(k);
    this.received.push({ at: Date.now(), port, type, version, names, problems: held.problems() });
    this.versions.set(type, version);
    this.nonces.set(type, nonce);
    if (this.delta) this.write({ type_url: type, response_nonce: nonce });
    else this.write({ type_url: type, version_info: version, response_nonce: nonce, resource_names: this.subscribed.get(type) ?? [] });
    // New EDS or RDS names follow what CDS and LDS now hold.
    const follow = type === TYPE.cluster ? TYPE.endpoint : type === TYPE.listener ? TYPE.route : undefined;
    if (follow) this.resubscribe(follow, follow === TYPE.endpoint ? held.edsNames() : held.rdsNames());
  }

  private resubscribe(type: TypeUrl, names: string[]): void {
    const before = this.subscribed.get(type);
    if (before && before.join('\n') === names.join('\n')) return;
    this.subscribed.set(type, names);
    if (this.delta) {
      const was = new Set(before ?? []);
      const now = new Set(names);
      this.write({ type_url: type, resource_names_subscribe: names.filter((n) => !was.has(n)), resource_names_unsubscribe: [...was].filter((n) => !now.has(n)) });
    } else {
      const nonce = this.nonces.get(type);
      this.write({ type_url: type, resource_names: names, version_info: this.versions.get(type) ?? '', ...(nonce ? { response_nonce: nonce } : {}) });
    }
  }

  /** Every response after which the held state was inconsistent, described. */
  inconsistent(): string[] {
    return this.received.filter((r) => r.problems.length).map((r) => `${this.id} after ${SHORT[r.type]} ${r.version} from :${r.port}: ${r.problems.join('; ')}`);
  }

  close(): void {
    this.stopped = true;
    this.call?.end();
    this.client?.close();
  }
}

/** One HTTP exchange and how far it got. */
export interface Timed {
  status?: number;
  body: string;
  /**
   * `ok`: a complete response; `connect`: refused, never accepted; `reset`: the
   * connection failed before any response (the request may or may not have
   * been applied); `body`: the response started and was cut short.
   */
  phase: 'ok' | 'connect' | 'reset' | 'body';
  error?: string;
  doneAt: number;
}

/** Keep-alive connections, as a load balancer or an SDK would use: shutdown must cope with requests on open connections. */
const keepAlive = new Agent({ keepAlive: true, maxSockets: 256 });

/** A JSON request that never throws, and says how far it got (see Timed). */
export function timedRequest(base: string, method: string, path: string, body?: unknown): Promise<Timed> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string | number> = text === undefined ? {} : { 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json', 'content-length': Buffer.byteLength(text) };
  return new Promise((resolve) => {
    let done = false;
    const finish = (t: Omit<Timed, 'doneAt'>) => {
      if (done) return;
      done = true;
      resolve({ ...t, doneAt: Date.now() });
    };
    const req = httpRequest(base + path, { method, headers, agent: keepAlive }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('aborted', () => finish({ status: res.statusCode, body: Buffer.concat(chunks).toString(), phase: 'body', error: 'aborted' }));
      res.on('error', (e) => finish({ status: res.statusCode, body: Buffer.concat(chunks).toString(), phase: 'body', error: e.message }));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        const len = res.headers['content-length'];
        if (len !== undefined && Number(len) !== b.length) return finish({ status: res.statusCode, body: b.toString(), phase: 'body', error: `${b.length} of ${len} bytes` });
        finish({ status: res.statusCode, body: b.toString(), phase: 'ok' });
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish({ body: '', phase: e.code === 'ECONNREFUSED' ? 'connect' : 'reset', error: `${e.code ?? ''} ${e.message}` }));
    req.end(text);
  });
}

/** Sends `signal` to a control-plane process and waits (at most `ms`) for it to exit; its exit code and signal. */
export async function exitOf(p: ControlPlaneProcess, signal: NodeJS.Signals, ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  // ControlPlaneProcess keeps its child private and only awaits the exit; the exit code tells a clean shutdown (0) from a forced one (1).
  const child = (p as unknown as { child?: ChildProcess }).child;
  if (!child || child.exitCode !== null || child.signalCode !== null) throw new Error('the process is not running');
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
  child.kill(signal);
  const late = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running ${ms} ms after ${signal}`)), ms).unref());
  return Promise.race([exited, late]);
}
