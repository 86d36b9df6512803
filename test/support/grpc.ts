import * as grpc from '@grpc/grpc-js';
import { configDefinition } from '../../src/config-centre/codec.js';
import { loadRegistryProto } from '../../src/registry/grpc/registry.grpc-server.js';

/** A real client of switchyard.v1.Registry. */
export function registryClient(port: number, actor?: string): grpc.Client & Record<string, any> {
  const pkg = loadRegistryProto() as any;
  const client = new pkg.switchyard.v1.Registry(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  if (actor) client.__actor = actor;
  return client;
}

export function unary<T = any>(client: any, method: string, req: unknown): Promise<T> {
  const md = new grpc.Metadata();
  if (client.__actor) md.set('x-switchyard-actor', client.__actor);
  return new Promise((resolve, reject) =>
    client[method](req, md, { deadline: Date.now() + 10000 }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))),
  );
}

/** google.protobuf.Struct from plain JSON, as a client would build it. */
export function struct(o: Record<string, unknown>): any {
  const value = (v: unknown): any =>
    v === null
      ? { nullValue: 'NULL_VALUE' }
      : typeof v === 'number'
        ? { numberValue: v }
        : typeof v === 'string'
          ? { stringValue: v }
          : typeof v === 'boolean'
            ? { boolValue: v }
            : Array.isArray(v)
              ? { listValue: { values: v.map(value) } }
              : { structValue: struct(v as Record<string, unknown>) };
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, value(v)])) };
}

/** A real client of switchyard.v1.Configs. */
export function configsClient(port: number): grpc.Client & Record<string, any> {
  const pkg = grpc.loadPackageDefinition(configDefinition()) as any;
  return new pkg.switchyard.v1.Configs(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}
