import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PACKAGE_ROOT } from '../../src/common/paths.js';

const def = protoLoader.loadSync(join(PACKAGE_ROOT, 'test/fixtures/echo.proto'), { keepCase: true });
const pkg = grpc.loadPackageDefinition(def) as any;

/** A real gRPC server that answers with its own name. */
export interface EchoBackend {
  name: string;
  port: number;
  /** What grpc.health.v1.Health/Check answers (SERVING by default). */
  setServing(serving: boolean): void;
  /** Alternate SERVING / NOT_SERVING on every Check call, whatever the timing. */
  setFlapping(on: boolean): void;
  stop(): Promise<void>;
}

const healthDef = protoLoader.loadSync(join(PACKAGE_ROOT, 'proto/grpc/health/v1/health.proto'), { keepCase: true, enums: String });
const healthPkg = grpc.loadPackageDefinition(healthDef) as any;

export async function startEchoBackend(name: string): Promise<EchoBackend> {
  const server = new grpc.Server();
  let serving = true;
  let flapping = false;
  server.addService(pkg.switchyard.test.Echo.service, {
    Say: (call: any, cb: any) => cb(null, { server: name, text: call.request.text }),
  });
  server.addService(healthPkg.grpc.health.v1.Health.service, {
    Check: (_call: any, cb: any) => {
      if (flapping) serving = !serving;
      cb(null, { status: serving ? 'SERVING' : 'NOT_SERVING' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { name, port, setServing: (v) => (serving = v), setFlapping: (v) => (flapping = v), stop: () => new Promise((r) => server.tryShutdown(() => r())) };
}

/** Client constructor for the Echo service (use with an xds:/// target). */
export const EchoClient: typeof grpc.Client = pkg.switchyard.test.Echo;

export function say(client: any, text = 'hi', metadata?: Record<string, string>): Promise<string> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata ?? {})) md.set(k, v);
  return new Promise((resolve, reject) =>
    client.Say({ text }, md, { deadline: Date.now() + 5000 }, (e: Error | null, r: { server: string }) => (e ? reject(e) : resolve(r.server))),
  );
}
