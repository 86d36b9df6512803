import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import type { TestApp } from './app.js';
import { attempt, type Outcome } from './echo-backends.js';
import { eventually } from './xds-client.js';

/** `n` calls, `concurrency` at a time, every outcome kept (server or status, details, ms). */
export async function calls(client: grpc.Client, n: number, opts: { concurrency?: number; deadlineMs?: number; metadata?: Record<string, string> } = {}): Promise<Outcome[]> {
  const c = opts.concurrency ?? 25;
  const out: Outcome[] = [];
  for (let i = 0; i < n; i += c) out.push(...(await Promise.all(Array.from({ length: Math.min(c, n - i) }, () => attempt(client, opts.metadata, opts.deadlineMs)))));
  return out;
}

/** Outcomes counted by server name, or by failure code. */
export function countOf(os: Outcome[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of os) out[o.server ?? o.code!] = (out[o.server ?? o.code!] ?? 0) + 1;
  return out;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** min / median / p95 / max of the calls' durations, for the test log. */
export function latency(os: Outcome[]): { min: number; median: number; p95: number; max: number } {
  const ms = os.map((o) => o.ms).sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { min: r(ms[0]), median: r(median(ms)), p95: r(ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.95))]), max: r(ms[ms.length - 1]) };
}

/** Sends a write to the REST API and fails the test on an unexpected status. */
export async function write(app: TestApp, method: string, path: string, body?: unknown, status = method === 'POST' ? 201 : 200): Promise<any> {
  const r = await app.http(method, path, body);
  assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
  return r.body;
}

/**
 * Waits until the node has ACKed, on every type, a config in which `check`
 * holds (given what was last sent to it: {LDS: [...], RDS: [...], ...}).
 * Config changes reach clients asynchronously (debounce, push, ACK): this is
 * the propagation condition, read from the control plane's own view of the
 * stream, not from traffic.
 */
export async function acked(app: TestApp, nodeId: string, check: (sent: Record<string, any[]>) => boolean, ms = 15000): Promise<Record<string, any[]>> {
  return eventually(
    async () => {
      const me = (await app.http('GET', '/api/v1/proxies')).body.items.find((p: any) => p.id === nodeId);
      assert.ok(me, `${nodeId} connected`);
      for (const [t, s] of Object.entries(me.types) as [string, any][]) {
        assert.equal(s.lastNack, undefined, `${t} NACKed: ${JSON.stringify(s.lastNack)}`);
        assert.equal(s.lastAckedVersion, s.lastSentVersion, `${t} not ACKed yet`);
      }
      const dump = await app.http('GET', `/api/v1/proxies/${nodeId}/config`);
      assert.equal(dump.status, 200, dump.text);
      assert.equal(dump.body.length, 1, `one stream for ${nodeId}`);
      const configs = Object.entries(dump.body[0].configs) as [string, any][];
      // Read after the ACKs: the same versions means this is what the client ACKed.
      for (const [t, c] of configs) assert.equal(c.version, me.types[t]?.lastAckedVersion, `${t} moved on`);
      const sent = Object.fromEntries(configs.map(([t, c]) => [t, c.resources]));
      assert.ok(check(sent), `not yet sent: ${JSON.stringify(sent.RDS)}`);
      return sent;
    },
    ms,
    50,
  );
}

/** The proxyless routes (RDS route entries) last sent for `host`'s route configuration. */
export const routesOf = (sent: Record<string, any[]>, host: string): any[] => sent.RDS?.find((r) => r.name === host)?.virtual_hosts?.[0]?.routes ?? [];
