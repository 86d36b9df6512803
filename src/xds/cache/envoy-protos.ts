import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';
import { XDS_DEPS_DIR } from '../../common/paths.js';


const FILES = [
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  // tracing and accessLog policies: the OpenTelemetry tracer and the file/stdout access loggers.
  'envoy/config/trace/v3/opentelemetry.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  // Upstream/DownstreamTlsContext: so bootstraps with TLS (envoy/bootstrap-ads-mtls.yaml) are checked too.
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/load_stats/v3/lrs.proto',
  'envoy/service/discovery/v3/discovery.proto',
];

let root: protobuf.Root | undefined;
const require = createRequire(import.meta.url);
// protobufjs defines these itself (with JSON helpers such as Any's "@type").
const BUILTIN = new Set(['any', 'duration', 'empty', 'field_mask', 'struct', 'timestamp', 'wrappers'].map((n) => `google/protobuf/${n}.proto`));

/**
 * The Envoy API protos shipped inside @grpc/grpc-js-xds, loaded with their
 * original snake_case field names (the names Envoy's own YAML uses).
 */
export function envoyRoot(): protobuf.Root {
  if (root) return root;
  const dirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(XDS_DEPS_DIR, d));
  dirs.push(dirname(require.resolve('protobufjs/package.json'))); // google/protobuf/descriptor.proto
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => {
    if (BUILTIN.has(target)) return target;
    for (const d of dirs) {
      const p = join(d, target);
      if (existsSync(p)) return p;
    }
    return target;
  };
  r.loadSync(FILES, { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}

/** The message type behind a type URL. */
export function typeOf(typeUrl: string): protobuf.Type {
  return envoyRoot().lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
}

/**
 * Encodes a resource written as proto3-style JSON with snake_case names;
 * nested Any values are written `{"@type": url, ...fields}`.
 */
export function encodeResource(typeUrl: string, obj: object): Uint8Array {
  const t = typeOf(typeUrl);
  return t.encode(t.fromObject(withSortedKeys(obj) as object)).finish();
}

/**
 * A copy with every object's keys in sorted order. protobufjs writes map
 * entries (a Struct's fields, typed_per_filter_config) in key insertion order,
 * and that order is whatever the writer sent: the replica that took a write
 * has the client's order, the others PostgreSQL's (jsonb sorts keys). Sorted,
 * equal content is equal bytes and an equal version everywhere, as with Go's
 * deterministic marshalling. Other fields are encoded by field number, so
 * sorting changes nothing else.
 */
function withSortedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withSortedKeys);
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return v;
  const keys = Object.keys(v).sort();
  return Object.fromEntries(keys.map((k) => [k, withSortedKeys((v as Record<string, unknown>)[k])]));
}

/** Decodes bytes back to the same JSON shape (Any values expanded with @type). */
export function decodeResource(typeUrl: string, bytes: Uint8Array): Record<string, unknown> {
  const t = typeOf(typeUrl);
  return t.toObject(t.decode(bytes), { longs: Number, enums: String, json: true }) as Record<string, unknown>;
}

/**
 * Envoy's YAML/JSON (proto3 JSON with snake_case names) → the object shape
 * protobufjs encodes: durations like "1.5s" become {seconds, nanos} and bare
 * numbers in wrapper fields become {value}.
 */
export function fromProto3Json(type: protobuf.Type, obj: unknown): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return obj;
  const src = obj as Record<string, unknown>;
  if (typeof src['@type'] === 'string') {
    const inner = envoyRoot().lookupType(String(src['@type']).slice(String(src['@type']).lastIndexOf('/') + 1));
    return { ...(fromProto3Json(inner, { ...src, '@type': undefined }) as object), '@type': src['@type'] };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (v === undefined) continue;
    const field = type.fields[k];
    if (!field) {
      out[k] = v;
      continue;
    }
    field.resolve();
    const convert = (x: unknown): unknown => {
      const rt = field.resolvedType;
      if (!(rt instanceof protobuf.Type)) return x;
      const full = rt.fullName;
      if (full === '.google.protobuf.Duration' && typeof x === 'string') {
        const m = /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(x);
        if (!m) throw new Error(`${k}: ${x} is not a duration like "1.5s"`);
        return { seconds: Number(m[1]), nanos: Number((m[2] ?? '').padEnd(9, '0')) * (m[1].startsWith('-') ? -1 : 1) };
      }
      if (/^\.google\.protobuf\.(U?Int(32|64)|Double|Float|Bool|String|Bytes)Value$/.test(full) && (typeof x !== 'object' || x === null)) return { value: x };
      return fromProto3Json(rt, x);
    };
    out[k] = field.map ? Object.fromEntries(Object.entries(v as object).map(([mk, mv]) => [mk, convert(mv)])) : Array.isArray(v) ? v.map(convert) : convert(v);
  }
  return out;
}
