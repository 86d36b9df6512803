import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import type { TestApp } from './app.js';
import { EchoClient } from './echo-backends.js';

/**
 * Points this process's grpc-js-xds at a control plane. The bootstrap is
 * process-wide in grpc-js-xds, so one test file has one node identity (and
 * locality); every client it makes shares them.
 */
export function useXds(xdsPort: number, nodeId: string, locality: { region?: string; zone?: string; sub_zone?: string } = {}): void {
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, locality },
  });
  xds.register();
}

/** An Echo client for `xds:///<host>`. */
export function xdsClient(host: string): grpc.Client {
  return new EchoClient(`xds:///${host}`, grpc.credentials.createInsecure());
}

/** Retries `check` until it passes (config reaches clients asynchronously). */
export async function eventually<T>(check: () => Promise<T>, ms = 15000, every = 100): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, every));
    }
  }
}

/** NACKs the control plane has seen, from /metrics (every e2e test asserts this). */
export async function nackCount(app: TestApp): Promise<number> {
  const text = (await app.http('GET', '/metrics')).text;
  return [...text.matchAll(/^switchyard_xds_nacks_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
}

/** Applies resources in one transaction; fails the test on anything but 200. */
export async function apply(app: TestApp, docs: unknown[]): Promise<void> {
  const r = await app.http('POST', '/api/v1/apply', docs);
  if (r.status !== 200) throw new Error(`apply: ${r.status} ${r.text}`);
}

/** A backend's Endpoint resource. */
export const endpointOf = (service: string, name: string, port: number, extra: Record<string, unknown> = {}) => ({
  kind: 'Endpoint',
  name,
  service,
  spec: { address: '127.0.0.1', port, ...extra },
});
