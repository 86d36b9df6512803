import http from 'node:http';
import { isIP, Socket } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../common/paths.js';
import type { ProbeResult } from '../model/health.js';
import { refusedTarget } from '../common/ssrf.js';

export { refusedTarget };

/** The settings of a healthCheck policy that a probe needs. */
export interface ProbeSpec {
  protocol: 'http' | 'tcp' | 'grpc';
  timeoutMs: number;
  path?: string;
  method?: string;
  host?: string;
  expectBody?: string;
  expectedStatuses?: { start: number; end: number }[];
  send?: string;
  expect?: string;
  grpcService?: string;
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });

/** One HTTP probe. Redirects are never followed: a 3xx passes only if listed in expectedStatuses. */
export function probeHttp(address: string, port: number, spec: ProbeSpec): Promise<ProbeResult> {
  const started = Date.now();
  const ranges = spec.expectedStatuses?.length ? spec.expectedStatuses : [{ start: 200, end: 300 }];
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ok, detail, ms: Date.now() - started });
    };
    const req = http.request(
      { host: address, port, method: spec.method ?? 'GET', path: spec.path ?? '/', agent, headers: { host: spec.host ?? `${address}:${port}`, 'user-agent': 'switchyard-health/1' } },
      (res) => {
        const status = res.statusCode ?? 0;
        const inRange = ranges.some((r) => status >= r.start && status < r.end);
        if (!inRange) return finish(false, `HTTP ${status}`);
        if (!spec.expectBody) return finish(true, `HTTP ${status}`);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
          if (body.includes(spec.expectBody!)) finish(true, `HTTP ${status}`);
          else if (body.length > 64 * 1024) finish(false, `HTTP ${status}, body lacks ${JSON.stringify(spec.expectBody)}`);
        });
        res.on('end', () => finish(body.includes(spec.expectBody!), body.includes(spec.expectBody!) ? `HTTP ${status}` : `HTTP ${status}, body lacks ${JSON.stringify(spec.expectBody)}`));
      },
    );
    const timer = setTimeout(() => finish(false, `timeout after ${spec.timeoutMs} ms`), spec.timeoutMs);
    req.on('error', (e) => finish(false, e.message));
    req.end();
  });
}

/** One TCP probe: connect, optionally send bytes and wait for expected bytes. */
export function probeTcp(address: string, port: number, spec: ProbeSpec): Promise<ProbeResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const sock = new Socket();
    let done = false;
    let got = '';
    const finish = (ok: boolean, detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok, detail, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false, `timeout after ${spec.timeoutMs} ms`), spec.timeoutMs);
    sock.once('error', (e) => finish(false, e.message));
    sock.connect(port, address, () => {
      if (!spec.send && !spec.expect) return finish(true, 'connected');
      if (spec.send) sock.write(spec.send);
      if (!spec.expect) return finish(true, 'connected, sent');
      sock.setEncoding('utf8');
      sock.on('data', (c: string) => {
        got += c;
        if (got.includes(spec.expect!)) finish(true, 'expected bytes received');
      });
      sock.on('end', () => finish(false, 'closed before the expected bytes'));
    });
  });
}

let healthClient: grpc.ServiceClientConstructor | undefined;
const channels = new Map<string, grpc.Client>();

/** One gRPC probe: grpc.health.v1.Health/Check must answer SERVING. */
export function probeGrpc(address: string, port: number, spec: ProbeSpec): Promise<ProbeResult> {
  const started = Date.now();
  if (!healthClient) {
    const def = protoLoader.loadSync(join(PROTO_DIR, 'grpc/health/v1/health.proto'), { enums: String, includeDirs: [PROTO_DIR] });
    healthClient = (grpc.loadPackageDefinition(def) as any).grpc.health.v1.Health as grpc.ServiceClientConstructor;
  }
  const target = isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
  // One channel per target, reused across probes (no new connection per probe).
  let client = channels.get(target);
  if (!client) {
    client = new healthClient(target, grpc.credentials.createInsecure(), { 'grpc.enable_retries': 0, 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 1000 });
    channels.set(target, client);
  }
  return new Promise((resolve) => {
    (client as any).Check({ service: spec.grpcService ?? '' }, { deadline: Date.now() + spec.timeoutMs }, (err: grpc.ServiceError | null, res: { status: string }) => {
      const ms = Date.now() - started;
      if (err) resolve({ ok: false, detail: err.code === grpc.status.DEADLINE_EXCEEDED ? `timeout after ${spec.timeoutMs} ms` : `gRPC ${grpc.status[err.code]}: ${err.details}`, ms });
      else resolve({ ok: res.status === 'SERVING', detail: res.status, ms });
    });
  });
}

/** Closes the gRPC channel of a target that is no longer probed. */
export function forgetTarget(address: string, port: number): void {
  const target = isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
  channels.get(target)?.close();
  channels.delete(target);
}

export function probe(address: string, port: number, spec: ProbeSpec): Promise<ProbeResult> {
  return spec.protocol === 'http' ? probeHttp(address, port, spec) : spec.protocol === 'tcp' ? probeTcp(address, port, spec) : probeGrpc(address, port, spec);
}
