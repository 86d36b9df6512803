import { envoyRoot } from '../src/xds/cache/envoy-protos.js';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../src/xds/server/wire.js';

/**
 * The client side of the xDS wire format, for our protocol tests and the
 * fleet simulator only (never part of the product build).
 */

const toObj = { longs: String, enums: String, defaults: true, arrays: true, objects: true };

export function decodeResponse(buf: Buffer): { version_info: string; resources: { type_url: string; value: Uint8Array }[]; type_url: string; nonce: string } {
  const t = envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  return t.toObject(t.decode(buf), { ...toObj, bytes: Buffer }) as any;
}

export function decodeDeltaResponse(buf: Buffer): {
  system_version_info: string;
  resources: { name: string; version: string; resource: { type_url: string; value: Uint8Array } }[];
  removed_resources: string[];
  type_url: string;
  nonce: string;
} {
  const t = envoyRoot().lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  return t.toObject(t.decode(buf), { ...toObj, bytes: Buffer }) as any;
}

export function encodeRequest(req: Partial<DiscoveryRequest>): Buffer {
  const t = envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  return Buffer.from(t.encode(t.fromObject(req)).finish());
}

export function encodeDeltaRequest(req: Partial<DeltaDiscoveryRequest>): Buffer {
  const t = envoyRoot().lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  return Buffer.from(t.encode(t.fromObject(req)).finish());
}
