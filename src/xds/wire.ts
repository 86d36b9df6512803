import protobuf from 'protobufjs';
import { envoyRoot } from './envoy-protos.js';
import type { EncodedResource } from './cache.js';

/** A DiscoveryRequest as decoded (snake_case, enums as names). */
export interface DiscoveryRequest {
  version_info: string;
  node?: Record<string, any>;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: { code: number; message: string };
}

/** A DeltaDiscoveryRequest as decoded. */
export interface DeltaDiscoveryRequest {
  node?: Record<string, any>;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail?: { code: number; message: string };
}

const toObj = { longs: String, enums: String, defaults: true, arrays: true, objects: true };

export function decodeRequest(buf: Buffer): DiscoveryRequest {
  const t = envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  return t.toObject(t.decode(buf), toObj) as DiscoveryRequest;
}

export function decodeDeltaRequest(buf: Buffer): DeltaDiscoveryRequest {
  const t = envoyRoot().lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  return t.toObject(t.decode(buf), toObj) as DeltaDiscoveryRequest;
}

/**
 * DiscoveryResponse built from pre-encoded Any bytes: no resource is
 * re-encoded per stream (fields: version_info=1, resources=2, type_url=4, nonce=5).
 */
export function encodeResponse(version: string, resources: EncodedResource[], typeUrl: string, nonce: string): Buffer {
  const w = protobuf.Writer.create().uint32(10).string(version);
  for (const r of resources) w.uint32(18).bytes(r.any);
  w.uint32(34).string(typeUrl).uint32(42).string(nonce);
  return Buffer.from(w.finish());
}

/**
 * DeltaDiscoveryResponse: system_version_info=1, resources=2 (Resource{name=3, version=1, resource=2}),
 * type_url=4, removed_resources=6, nonce=5.
 */
export function encodeDeltaResponse(systemVersion: string, resources: EncodedResource[], removed: string[], typeUrl: string, nonce: string): Buffer {
  const w = protobuf.Writer.create().uint32(10).string(systemVersion);
  for (const r of resources) {
    const inner = protobuf.Writer.create().uint32(10).string(r.hash).uint32(18).bytes(r.any).uint32(26).string(r.name).finish();
    w.uint32(18).bytes(inner);
  }
  w.uint32(34).string(typeUrl).uint32(42).string(nonce);
  for (const n of removed) w.uint32(50).string(n);
  return Buffer.from(w.finish());
}

/** Decoders for our own protocol-level test clients. */
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
