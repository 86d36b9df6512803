import { join } from 'node:path';
import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap, Optional } from '@nestjs/common';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { AppConfig, drainBudgetMs } from '../../config/config.js';
import { AuthService, type Caller } from '../../auth/auth.service.js';
import { ValidationFailed } from '../../common/errors.js';
import { toGrpcError } from '../../common/grpc-errors.js';
import { requestIdFrom, runInRequest } from '../../common/request-context.js';
import { PROTO_DIR } from '../../common/paths.js';
import { MetricsService } from '../../observability/metrics.service.js';
import { grpcServerCredentials, TLS_MATERIAL, type TlsMaterial } from '../../security/tls.js';
import { type Kind, KINDS, type Resource, type ResourceKey } from '../../model/resources.js';
import { RolloutActions } from '../rollout-actions.js';
import { RegistryService, type ResourceRef } from '../registry.service.js';
import { guardDecoding } from './decode-guard.js';
import { GrpcServices } from './grpc-services.js';
import { jsonToStruct, type PbStruct, structToJson } from './struct.js';

interface PbResource {
  kind: string;
  name: string;
  service: string;
  labels: Record<string, string>;
  spec: PbStruct | null;
  version: number;
}

/** switchyard.v1 as a proto-loader definition (what server reflection describes). */
export function registryDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(join(PROTO_DIR, 'switchyard/v1/registry.proto'), {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [PROTO_DIR],
  });
}

/** Loads switchyard.v1 (shared by the server and by clients such as tests). */
export function loadRegistryProto(): grpc.GrpcObject {
  return grpc.loadPackageDefinition(registryDefinition());
}

function kindOf(kind: string, field: string): Kind {
  if (!(KINDS as readonly string[]).includes(kind)) throw new ValidationFailed([{ field, message: `must be one of: ${KINDS.join(', ')}` }]);
  return kind as Kind;
}

function keyFrom(k: { kind: string; name: string; service: string } | null | undefined, field = 'key'): ResourceKey {
  if (!k) throw new ValidationFailed([{ field, message: 'is required' }]);
  const kind = kindOf(k.kind, `${field}.kind`);
  if (kind === 'Config') throw new ValidationFailed([{ field: `${field}.kind`, message: 'Config is served by switchyard.v1.Configs (config.proto) and REST /api/v1/configs' }]);
  if (kind === 'Endpoint' && !k.service) throw new ValidationFailed([{ field: `${field}.service`, message: 'is required for endpoints' }]);
  return { kind, scope: kind === 'Endpoint' ? k.service : '', name: k.name };
}

function bodyFrom(r: PbResource): Record<string, unknown> {
  return {
    kind: r.kind,
    ...(r.name ? { name: r.name } : {}),
    ...(r.service ? { service: r.service } : {}),
    labels: r.labels ?? {},
    spec: structToJson(r.spec),
  };
}

function toPb(r: Resource) {
  return {
    kind: r.kind,
    name: r.name,
    service: r.service ?? '',
    labels: r.labels,
    spec: jsonToStruct(r.spec),
    version: r.version,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    status: jsonToStruct(r.status),
  };
}

const refToPb = (r: ResourceRef) => ({ kind: r.kind, name: r.name, service: r.service ?? '', version: r.version ?? 0 });
/**
 * expected_version as the If-Match the service takes; 0 is no precondition.
 * Checked here, so a negative or unsafe value is refused naming the gRPC
 * field (the If-Match parser would name the HTTP header).
 */
function ifMatch(v: number, field = 'expectedVersion'): string | undefined {
  if (!Number.isSafeInteger(v) || v < 0) throw new ValidationFailed([{ field, message: 'must be a version (an integer >= 0, 0 for none)' }]);
  return v ? `"${v}"` : undefined;
}

/**
 * The management API over gRPC (proto/switchyard/v1/registry.proto), served
 * by the same RegistryService as REST, on its own port.
 */
@Injectable()
export class RegistryGrpcServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('RegistryGrpcServer');
  private server?: grpc.Server;
  /** Bound port (useful when GRPC_PORT=0). */
  port = 0;

  constructor(
    private readonly registry: RegistryService,
    private readonly rollouts: RolloutActions,
    @Inject(AppConfig) private readonly config: AppConfig,
    private readonly metrics: MetricsService,
    private readonly extra: GrpcServices,
    private readonly auth: AuthService,
    @Optional() @Inject(TLS_MATERIAL) private readonly tls?: TlsMaterial | null,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const definition = registryDefinition();
    const pkg = grpc.loadPackageDefinition(definition) as any;
    const server = new grpc.Server({ 'grpc.max_receive_message_length': this.config.BODY_LIMIT_BYTES });
    // Server reflection: grpcurl and other tools work without the proto files.
    new ReflectionService(Object.assign({}, definition, ...this.extra.all().map((s) => s.definition))).addToServer(server);
    // Every service: a request that does not decode is INVALID_ARGUMENT, not grpc-js's INTERNAL.
    const add = (service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation) => {
      const g = guardDecoding(service, implementation);
      server.addService(g.service, g.implementation);
    };
    for (const s of this.extra.all()) add(s.service, s.implementation);
    const r = this.registry;
    const who = (c: Caller) => ({ actor: c.actor, comment: c.comment });
    add(pkg.switchyard.v1.Registry.service, {
      Get: this.unary('Get', async (req: any) => toPb(await r.get(keyFrom(req.key)))),
      List: this.unary('List', async (req: any) => {
        const kind = kindOf(req.kind, 'kind');
        if (kind === 'Config') throw new ValidationFailed([{ field: 'kind', message: 'Config is served by switchyard.v1.Configs (config.proto)' }]);
        if (kind === 'Endpoint' && !req.service) throw new ValidationFailed([{ field: 'service', message: 'is required for endpoints' }]);
        const page = await r.list(kind, { labelSelector: req.labelSelector, limit: clamp(req.pageSize), pageToken: req.pageToken || undefined }, kind === 'Endpoint' ? req.service : undefined);
        return { items: page.items.map(toPb), nextPageToken: page.nextPageToken ?? '' };
      }),
      Create: this.unary('Create', async (req: any, caller) => {
        const res = required(req.resource, 'resource');
        const kind = kindOf(res.kind, 'resource.kind');
        if (kind === 'Config') throw new ValidationFailed([{ field: 'resource.kind', message: 'Config is written through REST /api/v1/configs or apply' }]);
        return toPb(await r.create(kind, bodyFrom(res), { ...who(caller), service: res.service || undefined }));
      }),
      Update: this.unary('Update', async (req: any, caller) => {
        const res = required(req.resource, 'resource');
        const key = keyFrom(res, 'resource');
        return toPb(await r.replace(key, bodyFrom(res), { ...who(caller), ifMatch: ifMatch(req.expectedVersion) }));
      }),
      Delete: this.unary('Delete', async (req: any, caller) => {
        const out = await r.remove(keyFrom(req.key), { ...who(caller), ifMatch: ifMatch(req.expectedVersion), cascade: req.cascade });
        return { deleted: out.deleted.map(refToPb), updated: out.updated.map(refToPb) };
      }),
      Apply: this.unary('Apply', async (req: any, caller) => {
        const out = await r.apply((req.resources as PbResource[]).map(bodyFrom), { ...who(caller), dryRun: req.dryRun });
        return { dryRun: out.dryRun, results: out.results.map(({ result, ...ref }) => ({ ref: refToPb(ref), result })) };
      }),
      RolloutAction: this.unary('RolloutAction', async (req: any, caller) => toPb(await this.rollouts.act(req.name, req.action, { ...who(caller), full: req.full }))),
      Rollback: this.unary('Rollback', async (req: any, caller) => {
        const kinds = (req.kinds as string[]).map((k, i) => kindOf(k, `kinds[${i}]`));
        const out = await r.rollback({ toRevision: Number(req.toRevision), kinds, names: req.names, dryRun: req.dryRun }, who(caller));
        return {
          ...out,
          results: out.results.map((x) => ({ ...x, service: x.service ?? '', namespace: x.namespace ?? '', group: x.group ?? '', fromVersion: x.fromVersion ?? 0, version: x.version ?? 0 })),
        };
      }),
      ListChanges: this.unary('ListChanges', async (req: any) => {
        if (req.since < 0) throw new ValidationFailed([{ field: 'since', message: 'must be >= 0' }]);
        const out = await r.changes(req.since, clamp(req.limit));
        return {
          revision: out.revision,
          changes: out.changes.map((c) => ({ ...c, service: c.service ?? '', namespace: c.namespace ?? '', group: c.group ?? '', comment: c.comment ?? '' })),
        };
      }),
    });
    this.port = await new Promise<number>((resolve, reject) =>
      // TLS when TLS_CERT_FILE is set, re-read on change without a rebind; no client certificates here (callers are people and tools).
      server.bindAsync(`${this.config.HOST}:${this.config.GRPC_PORT}`, grpcServerCredentials(this.tls ?? undefined), (err, port) =>
        err ? reject(new Error(`cannot listen on GRPC_PORT ${this.config.GRPC_PORT}: ${err.message}`)) : resolve(port),
      ),
    );
    this.server = server;
    this.log.log(`management gRPC API listening on ${this.config.HOST}:${this.port}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, drainBudgetMs(this.config.SHUTDOWN_TIMEOUT_MS));
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * One RPC: the access check (metadata `authorization: Bearer …`; UNAUTHENTICATED
   * or PERMISSION_DENIED), then `fn` with the caller, with metrics and errors mapped.
   */
  private unary(method: string, fn: (req: unknown, caller: Caller) => Promise<unknown>): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const start = process.hrtime.bigint();
      const done = (code: grpc.status) => {
        const labels = { method, code: grpc.status[code] };
        this.metrics.grpcRequests.inc(labels);
        this.metrics.grpcDuration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
      };
      const md = call.metadata;
      // In a request context, so the audit log can name the request (x-request-id metadata) behind a write.
      runInRequest({ requestId: requestIdFrom(md.get('x-request-id')[0]) }, () =>
        this.auth.checkGrpc(md.get('authorization')[0], md.get('x-switchyard-actor')[0], `Registry/${method}`, call.request).then((caller) => fn(call.request, caller)),
      ).then(
        (res) => {
          done(grpc.status.OK);
          callback(null, res);
        },
        (err) => {
          const e = toGrpcError(err);
          if (e.code === grpc.status.INTERNAL) this.log.error(err);
          done(e.code!);
          callback(e);
        },
      );
    };
  }
}

function required<T>(v: T | null | undefined, field: string): T {
  if (!v) throw new ValidationFailed([{ field, message: 'is required' }]);
  return v;
}

function clamp(n: number): number {
  return n > 0 ? Math.min(n, 1000) : 100;
}
