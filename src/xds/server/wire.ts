import protobuf from 'protobufjs';
import { envoyRoot } from '../cache/envoy-protos.js';
import type { EncodedResource } from '../cache/cache.js';

/** A DiscoveryRequest as decoded (snake_case, enums as names). */
export interface DiscoveryRequest {
  version_info: string;
  node?: Record<string, any>;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail?: { code: number; message: string };
  /** The encoded resource_names entries (fields 3), for comparing subscriptions without decoding them. */
  names_raw?: Buffer;
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

/**
 * A request whose bytes do not decode. Fields are decoded lazily, after gRPC
 * has handed the message over, so the stream must turn this into
 * INVALID_ARGUMENT itself: thrown from a stream's data handler it would be an
 * uncaught exception and take the process down.
 */
export class MalformedRequest extends Error {
  constructor(field: string, cause: unknown) {
    super(`${field} does not decode: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * A DiscoveryRequest decoded lazily. Envoy repeats its node and every
 * subscribed name in each ACK (tens of KB with a large catalogue), so the
 * server reads the small fields eagerly and decodes node and resource_names
 * only when asked; streams compare `names_raw` bytes instead.
 */
class LazyDiscoveryRequest implements DiscoveryRequest {
  version_info = '';
  type_url = '';
  response_nonce = '';
  error_detail?: { code: number; message: string };
  names_raw: Buffer = EMPTY;
  private nodeBytes?: Uint8Array;
  private nodeObj?: Record<string, any>;
  private names?: string[];

  get node(): Record<string, any> | undefined {
    if (this.nodeBytes && !this.nodeObj) {
      const t = envoyRoot().lookupType('envoy.config.core.v3.Node');
      try {
        this.nodeObj = t.toObject(t.decode(this.nodeBytes), toObj);
      } catch (e) {
        throw new MalformedRequest('node', e);
      }
    }
    return this.nodeObj;
  }

  get resource_names(): string[] {
    if (!this.names) {
      const names: string[] = [];
      try {
        const r = protobuf.Reader.create(this.names_raw);
        while (r.pos < r.len) {
          r.uint32();
          names.push(r.string());
        }
      } catch (e) {
        throw new MalformedRequest('resource_names', e);
      }
      this.names = names;
    }
    return this.names;
  }

  static decode(buf: Buffer): LazyDiscoveryRequest {
    const req = new LazyDiscoveryRequest();
    const r = protobuf.Reader.create(buf);
    const names: Buffer[] = [];
    let runStart = -1;
    let runEnd = -1;
    while (r.pos < r.len) {
      const at = r.pos;
      const tag = r.uint32();
      const field = tag >>> 3;
      if (field === 3 && (tag & 7) === 2) {
        // Names are usually contiguous: keep one slice; otherwise collect the runs.
        if (runStart < 0) runStart = at;
        else if (runEnd !== at) {
          names.push(buf.subarray(runStart, runEnd));
          runStart = at;
        }
        r.pos = skipNames(buf, r.pos);
        runEnd = r.pos;
        continue;
      }
      if (field === 1 && (tag & 7) === 2) req.version_info = r.string();
      else if (field === 2 && (tag & 7) === 2) req.nodeBytes = r.bytes();
      else if (field === 4 && (tag & 7) === 2) req.type_url = r.string();
      else if (field === 5 && (tag & 7) === 2) req.response_nonce = r.string();
      else if (field === 6 && (tag & 7) === 2) {
        const t = envoyRoot().lookupType('google.rpc.Status');
        const s = t.toObject(t.decode(r.bytes()), toObj) as { code: number; message: string };
        req.error_detail = { code: s.code, message: s.message };
      } else r.skipType(tag & 7);
    }
    if (runStart >= 0) names.push(buf.subarray(runStart, runEnd));
    req.names_raw = names.length === 1 ? names[0] : names.length ? Buffer.concat(names) : EMPTY;
    return req;
  }
}

/**
 * Skips a run of resource_names entries starting after the first tag: each is
 * tag 0x1a, a varint length and the bytes. A plain loop, because an ACK from a
 * proxy subscribed to tens of thousands of names is read on every push.
 */
function skipNames(buf: Buffer, pos: number): number {
  for (;;) {
    let len = 0;
    let shift = 0;
    let b: number;
    do {
      if (pos >= buf.length) throw new RangeError('truncated resource name');
      b = buf[pos++];
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    pos += len;
    if (pos > buf.length) throw new RangeError('truncated resource name');
    if (pos >= buf.length || buf[pos] !== 0x1a) return pos;
    pos++;
  }
}

export function decodeRequest(buf: Buffer): DiscoveryRequest {
  return LazyDiscoveryRequest.decode(buf);
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
