import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap, Optional } from '@nestjs/common';
import * as grpc from '@grpc/grpc-js';
import { AppConfig } from '../../config/config.js';
import { MetricsService } from '../../observability/metrics.service.js';
import { groupKey, type NodeGroup } from '../../translate/types.js';
import { XDS_CACHE, type XdsCache } from '../cache/cache.js';
import { TYPE, type TypeUrl } from '../../translate/envoy-types.js';
import { LoadReports, LRS_SERVICE, serveLoadStats } from './lrs.js';
import { ProxyRegistry } from './proxies.js';
import { SotwStream } from './sotw.js';
import { StreamShared } from './stream-shared.js';
import { DeltaStream } from './delta.js';
import { decodeDeltaRequest, decodeRequest, MalformedRequest, type DeltaDiscoveryRequest, type DiscoveryRequest } from './wire.js';
import { XdsMetrics } from '../xds-metrics.js';
import { grpcServerCredentials, TLS_MATERIAL, type TlsMaterial } from '../../security/tls.js';
import { XDS_IDENTITY_RESOLVER, type XdsIdentityResolver } from '../../security/xds-identity.js';
import { type Refusal, XdsGate } from './authz.js';

const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
const passThrough = (b: Buffer) => b;

/**
 * A request whose bytes do not decode at all. grpc-js ends a call whose
 * deserializer throws with INTERNAL, which says the server is at fault; the
 * deserializer hands this on instead, and the stream ends with INVALID_ARGUMENT.
 */
class Undecodable {
  constructor(readonly error: MalformedRequest) {}
}

const tolerant = (decode: (b: Buffer) => unknown) => (b: Buffer) => {
  try {
    return decode(b);
  } catch (e) {
    return new Undecodable(new MalformedRequest('the request', e));
  }
};

const bidi = (path: string, decode: (b: Buffer) => unknown) => ({
  path,
  requestStream: true,
  responseStream: true,
  requestSerialize: passThrough,
  requestDeserialize: tolerant(decode),
  responseSerialize: passThrough,
  responseDeserialize: passThrough,
});

/** Minimal service definitions: requests are decoded, responses are already bytes. */
const SERVICES: { service: string; sotw: string; delta: string; type?: TypeUrl }[] = [
  { service: ADS, sotw: 'StreamAggregatedResources', delta: 'DeltaAggregatedResources' },
  { service: 'envoy.service.cluster.v3.ClusterDiscoveryService', sotw: 'StreamClusters', delta: 'DeltaClusters', type: TYPE.cluster },
  { service: 'envoy.service.endpoint.v3.EndpointDiscoveryService', sotw: 'StreamEndpoints', delta: 'DeltaEndpoints', type: TYPE.endpoint },
  { service: 'envoy.service.listener.v3.ListenerDiscoveryService', sotw: 'StreamListeners', delta: 'DeltaListeners', type: TYPE.listener },
  { service: 'envoy.service.route.v3.RouteDiscoveryService', sotw: 'StreamRoutes', delta: 'DeltaRoutes', type: TYPE.route },
];

/**
 * The xDS server: raw @grpc/grpc-js on XDS_PORT, serving ADS from the cache.
 * It depends only on the cache and pushes to a group's streams when that group's snapshot changes.
 */
@Injectable()
export class XdsServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('XdsServer');
  /** Groups whose last stream ended, with the timer that forgets them. */
  private readonly idleGroups = new Map<string, NodeJS.Timeout>();
  private server?: grpc.Server;
  private readonly byGroup = new Map<string, Set<SotwStream | DeltaStream>>();
  private readonly shared: StreamShared;
  port = 0;
  private readonly admission: TokenBucket;
  /** XDS_AUTH: who may open streams into which groups. */
  readonly gate: XdsGate;

  constructor(
    @Inject(AppConfig) private readonly config: AppConfig,
    @Inject(XDS_CACHE) private readonly cache: XdsCache,
    readonly proxies: ProxyRegistry,
    private readonly loads: LoadReports,
    private readonly metrics: XdsMetrics,
    registry: MetricsService,
    @Optional() @Inject(TLS_MATERIAL) private readonly tls?: TlsMaterial | null,
    @Optional() @Inject(XDS_IDENTITY_RESOLVER) resolver?: XdsIdentityResolver | null,
  ) {
    metrics.watchProxies(proxies, registry, () => cache.knownGroups().length);
    this.gate = new XdsGate(config.XDS_AUTH, resolver ?? undefined, (r) => {
      metrics.authRefusals.inc({ reason: r.reason });
      this.log.warn(`xDS stream refused (${r.reason}): ${r.details}`);
    });
    this.admission = new TokenBucket(config.XDS_MAX_NEW_STREAMS_PER_SECOND, config.XDS_NEW_STREAM_BURST);
    this.shared = new StreamShared({
      onSend: (_p, type, _v, bytes) => metrics.sent(type, bytes),
      onAck: (_p, type: TypeUrl, _v, revision, subscribedAt) => metrics.acked(type, revision, subscribedAt),
      onNack: (p, type, version, message) => {
        metrics.nacked(p, type);
        this.log.warn(`NACK from ${p.id} for ${type} version ${version}: ${message}`);
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.cache.onUpdate((snap) => {
      const streams = this.byGroup.get(snap.key);
      if (!streams?.size) return;
      for (const s of streams) s.flush();
      this.metrics.pushLatency.observe(Math.max(0, Date.now() - snap.publishedAt) / 1000);
    });
    const server = new grpc.Server({
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
      'grpc.max_send_message_length': 256 * 1024 * 1024,
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
    });
    // ADS, plus the per-type services for clients that do not aggregate.
    for (const svc of SERVICES) {
      server.addService(
        {
          [svc.sotw]: bidi(`/${svc.service}/${svc.sotw}`, decodeRequest),
          [svc.delta]: bidi(`/${svc.service}/${svc.delta}`, decodeDeltaRequest),
        } as grpc.ServiceDefinition,
        {
          [svc.sotw]: (call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>) =>
            this.serve(call, (join) => new SotwStream(call, this.cache, this.proxies, this.shared, join), svc.type),
          [svc.delta]: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>) =>
            this.serve(call, (join) => new DeltaStream(call, this.cache, this.proxies, this.shared, join), svc.type),
        },
      );
    }
    // Load reporting (LRS) on the same port: clients report per-cluster calls, which rollout analysis reads.
    server.addService(
      { StreamLoadStats: bidi(`/${LRS_SERVICE}/StreamLoadStats`, passThrough) } as grpc.ServiceDefinition,
      {
        StreamLoadStats: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
          // Load reports steer rollouts: with XDS_AUTH they need an identity too (the node group is not checked here).
          if (!this.gate.enabled) return serveLoadStats(call, this.loads);
          this.gate.identify(call).then((r) => ('code' in r ? refuse(call, r) : serveLoadStats(call, this.loads)));
        },
      },
    );
    this.port = await new Promise<number>((resolve, reject) =>
      // TLS from TLS_CERT_FILE (re-read on change, no rebind); client certificates required with XDS_CLIENT_CA_FILE.
      server.bindAsync(`${this.config.HOST}:${this.config.XDS_PORT}`, grpcServerCredentials(this.tls ?? undefined, true), (err, port) =>
        err ? reject(new Error(`cannot listen on XDS_PORT ${this.config.XDS_PORT}: ${err.message}`)) : resolve(port),
      ),
    );
    this.server = server;
    const tls = this.tls ? (this.tls.current.clientCa ? 'mTLS' : 'TLS') : 'plaintext';
    this.log.log(`xDS (ADS) listening on ${this.config.HOST}:${this.port} (${tls}, XDS_AUTH=${this.config.XDS_AUTH})`);
    if (this.config.XDS_AUTH !== 'none' && !this.tls) this.log.warn('XDS_AUTH is on without TLS: bearer tokens cross the network in the clear; set TLS_CERT_FILE and TLS_KEY_FILE');
  }

  private serve<S extends SotwStream | DeltaStream, Req extends { type_url: string }>(
    call: grpc.ServerDuplexStream<Req, Buffer>,
    make: (join: (s: S) => void) => S,
    onlyType?: TypeUrl,
  ): void {
    if (!this.admission.take()) {
      // Like Envoy's overload manager: refuse early and cheaply; clients back off and retry.
      this.metrics.refused.inc();
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `xDS admission control: more than ${this.config.XDS_MAX_NEW_STREAMS_PER_SECOND} new streams per second; retry with backoff` });
      return;
    }
    const stream = make((s) => {
      const key = groupKey(s.group!);
      if (!this.byGroup.has(key)) this.byGroup.set(key, new Set());
      this.byGroup.get(key)!.add(s);
    });
    const done = () => {
      stream.close();
      if (!stream.group) return;
      const key = groupKey(stream.group);
      const streams = this.byGroup.get(key);
      streams?.delete(stream);
      if (streams && !streams.size) this.forgetLater(key, stream.group);
    };
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('cancelled', done);
    const read = () =>
      call.on('data', (req: Req | Undecodable) => {
        if (req instanceof Undecodable) return stream.fail(grpc.status.INVALID_ARGUMENT, req.error.message);
        if (onlyType) {
          // A per-type service: the type is implied, and other types are not served here.
          if (!req.type_url) req.type_url = onlyType;
          if (req.type_url !== onlyType) return;
        }
        try {
          stream.handle(req as never);
        } catch (e) {
          // Thrown from a 'data' handler, this would be uncaught and end the process for every stream.
          if (e instanceof MalformedRequest) return stream.fail(grpc.status.INVALID_ARGUMENT, e.message);
          this.log.error(`xDS stream failed on a request: ${(e as Error).stack ?? String(e)}`);
          stream.fail(grpc.status.INTERNAL, 'the server could not handle this request; see its log');
        }
      });
    if (!this.gate.enabled) return void read();
    // Requests wait in the call (not read) until the caller is known; the first one is then checked against its identity.
    this.gate.identify(call).then((r) => {
      if (stream.ended) return; // the client went away meanwhile
      if ('code' in r) return stream.refuse(r);
      stream.pass = r;
      read();
    });
  }

  /** Drops a group from the cache once it has had no stream for XDS_IDLE_GROUP_TTL_MS (a reconnect in between keeps it). */
  private forgetLater(key: string, group: NodeGroup): void {
    if (this.idleGroups.has(key)) return;
    const timer = setTimeout(() => {
      this.idleGroups.delete(key);
      if (this.byGroup.get(key)?.size) return;
      this.byGroup.delete(key);
      this.cache.forget(group);
    }, this.config.XDS_IDLE_GROUP_TTL_MS);
    timer.unref();
    this.idleGroups.set(key, timer);
  }

  async beforeApplicationShutdown(): Promise<void> {
    for (const t of this.idleGroups.values()) clearTimeout(t);
    this.idleGroups.clear();
    const server = this.server;
    this.server = undefined;
    // Streams never end by themselves: close them rather than wait.
    server?.forceShutdown();
  }
}

function refuse(call: grpc.ServerDuplexStream<unknown, unknown>, r: Refusal): void {
  call.emit('error', { code: r.code, details: r.details });
}

/** A token bucket for admitting new streams; a rate of 0 admits everything. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(): boolean {
    if (this.ratePerSecond <= 0) return true;
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
