import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PACKAGE_ROOT } from '../../src/common/paths.js';

const def = protoLoader.loadSync(join(PACKAGE_ROOT, 'examples/echo.proto'), { keepCase: true });
const pkg = grpc.loadPackageDefinition(def) as any;

/** How a backend answers Say: after a delay, failing some calls, holding them. */
export interface Behaviour {
  /** Answer after this many ms. */
  delayMs?: number;
  /** Fail with this gRPC code... */
  failCode?: grpc.status;
  /** ...every call (1), a share of calls (0..1), or only first attempts ('first': calls without grpc-previous-rpc-attempts). */
  fail?: number | 'first';
}

/** A real gRPC server that answers with its own name. */
export interface EchoBackend {
  name: string;
  port: number;
  /** Changes how Say answers from now on ({} = at once, successfully). */
  behave(b: Behaviour): void;
  /** Say calls received, and the most in flight at once. */
  stats(): { calls: number; maxInFlight: number; inFlight: number };
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
  let behaviour: Behaviour = {};
  const counts = { calls: 0, maxInFlight: 0, inFlight: 0 };
  server.addService(pkg.switchyard.test.Echo.service, {
    Say: (call: any, cb: any) => {
      const b = behaviour;
      counts.calls++;
      counts.inFlight++;
      counts.maxInFlight = Math.max(counts.maxInFlight, counts.inFlight);
      const retried = call.metadata.get('grpc-previous-rpc-attempts').length > 0;
      const failing = b.fail === 'first' ? !retried : b.fail !== undefined && Math.random() < b.fail;
      const answer = () => {
        counts.inFlight--;
        if (failing) cb({ code: b.failCode ?? grpc.status.UNAVAILABLE, details: `${name} fails on purpose` });
        else cb(null, { server: name, text: call.request.text });
      };
      if (b.delayMs) setTimeout(answer, b.delayMs);
      else answer();
    },
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
  return {
    name,
    port,
    behave: (b) => (behaviour = b),
    stats: () => ({ ...counts }),
    setServing: (v) => (serving = v),
    setFlapping: (v) => (flapping = v),
    stop: () => new Promise((r) => server.tryShutdown(() => r())),
  };
}

/** Client constructor for the Echo service (use with an xds:/// target). */
export const EchoClient: typeof grpc.Client = pkg.switchyard.test.Echo;

export function say(client: any, text = 'hi', metadata?: Record<string, string>, deadlineMs = 5000): Promise<string> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata ?? {})) md.set(k, v);
  return new Promise((resolve, reject) =>
    client.Say({ text }, md, { deadline: Date.now() + deadlineMs }, (e: Error | null, r: { server: string }) => (e ? reject(e) : resolve(r.server))),
  );
}

/** The outcome of one call: the server that answered, or the gRPC status name it failed with, and how long it took. */
export interface Outcome {
  server?: string;
  code?: string;
  details?: string;
  ms: number;
}

/** One call that never throws. */
export async function attempt(client: any, metadata?: Record<string, string>, deadlineMs = 5000): Promise<Outcome> {
  const t0 = performance.now();
  try {
    const server = await say(client, 'hi', metadata, deadlineMs);
    return { server, ms: performance.now() - t0 };
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { code: grpc.status[err.code] ?? String(err.code), details: err.details, ms: performance.now() - t0 };
  }
}

/** `n` calls, `concurrency` at a time; counts by server name, or by failure code. */
export async function tally(client: any, n: number, opts: { metadata?: Record<string, string>; concurrency?: number; deadlineMs?: number } = {}): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const c = opts.concurrency ?? 50;
  for (let i = 0; i < n; i += c) {
    const batch = await Promise.all(Array.from({ length: Math.min(c, n - i) }, () => attempt(client, opts.metadata, opts.deadlineMs)));
    for (const o of batch) {
      const k = o.server ?? o.code!;
      out[k] = (out[k] ?? 0) + 1;
    }
  }
  return out;
}
