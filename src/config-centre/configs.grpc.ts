import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import * as grpc from '@grpc/grpc-js';
import { ValidationFailed } from '../common/errors.js';
import type { ConfigSpec, Resource } from '../model/resources.js';
import { toGrpcError } from '../common/grpc-errors.js';
import { GrpcServices } from '../registry/grpc/grpc-services.js';
import { AuthService } from '../auth/auth.service.js';
import { ConfigCodec } from './codec.js';
import { ConfigHub, type EncodedUpdate } from './config-hub.js';
import { ConfigService } from './config.service.js';
import { checkWatch, LatestFirst } from './watch.service.js';

interface PbKey {
  namespace: string;
  group: string;
  name: string;
}

const parse = (u: EncodedUpdate) => JSON.parse(u.json) as object;

/**
 * switchyard.v1.Configs (proto/switchyard/v1/config.proto) on the management
 * gRPC port. Watch writes the bytes the hub encoded, unchanged.
 */
@Injectable()
export class ConfigsGrpc implements OnModuleInit {
  private readonly log = new Logger('ConfigsGrpc');

  constructor(
    private readonly services: GrpcServices,
    private readonly codec: ConfigCodec,
    private readonly hub: ConfigHub,
    private readonly configs: ConfigService,
    private readonly auth: AuthService,
  ) {}

  onModuleInit(): void {
    this.services.add({
      definition: this.codec.definition,
      service: this.codec.serviceForServer(),
      implementation: {
        Watch: (call: grpc.ServerWritableStream<any, Buffer>) => this.watch(call),
        Get: this.unary('Get', async (req: any) => {
          const k = this.key(req.key, 'key');
          const cfg = (await this.configs.get(k.namespace, k.group, k.name)) as unknown as Resource<ConfigSpec>;
          return parse(this.hub.encodedFor(cfg, { id: req.instanceId ?? '', labels: req.labels ?? {} }));
        }),
        List: this.unary('List', async (req: any) => {
          const w = checkWatch({ namespace: req.namespace, group: req.group }, 'grpc');
          const configs: object[] = [];
          let pageToken: string | undefined;
          do {
            const page = await this.configs.list({ namespace: w.namespace, group: w.group, limit: 1000, pageToken });
            for (const cfg of page.items) configs.push(parse(this.hub.encodedFor(cfg as unknown as Resource<ConfigSpec>, { id: '', labels: {} })));
            pageToken = page.nextPageToken;
          } while (pageToken);
          return { configs };
        }),
        Ack: this.unary('Ack', async (req: any) => {
          const k = this.key(req.key, 'key');
          if (!req.instanceId) throw new ValidationFailed([{ field: 'instanceId', message: 'is required' }]);
          await this.configs.ack(k.namespace, k.group, k.name, { instanceId: String(req.instanceId).slice(0, 256), revision: Number(req.revision), error: req.error || undefined });
          return {};
        }),
      },
    });
  }

  private key(k: PbKey | null | undefined, field: string): PbKey {
    if (!k) throw new ValidationFailed([{ field, message: 'is required' }]);
    try {
      this.configs.key(k.namespace, k.group, k.name);
    } catch (e) {
      if (e instanceof ValidationFailed) throw new ValidationFailed(e.violations.map((v) => ({ ...v, field: `${field}.${v.field}` })));
      throw e;
    }
    return k;
  }

  private watch(call: grpc.ServerWritableStream<any, Buffer>): void {
    this.check('Watch', call).then(
      (caller) => {
        if (call.cancelled) return;
        this.startWatch(call);
        // A watch outlives a request: it ends when its credential expires, as the next request would be refused.
        const exp = caller.principal?.expiresAt;
        if (exp !== undefined) {
          const timer = setTimeout(() => call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: `${caller.actor}: the token has expired` }), Math.max(0, exp - Date.now()));
          timer.unref();
          call.on('close', () => clearTimeout(timer));
          call.on('cancelled', () => clearTimeout(timer));
        }
      },
      (e) => call.emit('error', toGrpcError(e)),
    );
  }

  private check(method: string, call: grpc.ServerUnaryCall<any, any> | grpc.ServerWritableStream<any, any>) {
    return this.auth.checkGrpc(call.metadata.get('authorization')[0], call.metadata.get('x-switchyard-actor')[0], `Configs/${method}`, call.request);
  }

  private startWatch(call: grpc.ServerWritableStream<any, Buffer>): void {
    const r = call.request;
    let req;
    try {
      req = checkWatch({ namespace: r.namespace, group: r.group, names: r.names, instanceId: r.instanceId, labels: r.labels, known: r.knownRevisions }, 'grpc');
    } catch (e) {
      // checkWatch names the HTTP parameter (known); over gRPC the field is known_revisions.
      const named = e instanceof ValidationFailed ? new ValidationFailed(e.violations.map((v) => ({ ...v, field: v.field.replace(/^known\b/, 'knownRevisions') }))) : e;
      call.emit('error', toGrpcError(named));
      return;
    }
    const out = new LatestFirst(
      (u) => call.write(u.pb),
      (fn) => call.on('drain', fn),
    );
    const handle = this.hub.watch(req, {
      push: (u) => out.push(u),
      synced: () => out.after(() => call.write(this.codec.syncedMarker)),
      end: (reason) => call.emit('error', { code: grpc.status.UNAVAILABLE, details: reason }),
    });
    const close = () => handle.close();
    call.on('cancelled', close);
    call.on('close', close);
    call.on('error', close);
  }

  private unary(method: string, fn: (req: unknown) => Promise<unknown>): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) =>
      void this.check(method, call).then(() => fn(call.request)).then(
        (res) => callback(null, res),
        (err) => {
          const e = toGrpcError(err);
          if (e.code === grpc.status.INTERNAL) this.log.error(err);
          callback(e);
        },
      );
  }
}
