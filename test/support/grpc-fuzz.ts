import { join } from 'node:path';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { PROTO_DIR } from '../../src/common/paths.js';
import { KINDS, ROLLOUT_ACTIONS } from '../../src/model/resources.js';
import { hostileValue, NAMES } from './api-fuzz.js';
import { fuzzCaseArbitrary, resourceArbitraries } from './fuzz-registry.js';

/*
 * Random gRPC requests for fuzzing the management API (issue 16), derived
 * from the proto files the server loads (proto/switchyard/v1/*.proto): every
 * rpc of every service in them is a target, its request generated from the
 * message type by reflection, so a new rpc is fuzzed without a change here.
 *
 * Every case is bytes, sent through a pass-through client, so that the same
 * path carries well-formed and malformed messages:
 * - plausible requests: names from small pools (writes collide, references
 *   resolve), a message shaped like a resource (a `kind` string and a Struct
 *   `spec`) filled from the REST fuzzer's resource generators;
 * - hostile values the wire allows: huge strings and repeated fields,
 *   unicode, NUL and lone surrogates, NaN, ±Infinity, −0 and 2^53 in doubles,
 *   int64 edges, deep Struct nesting (built as bytes: protobufjs' encoder
 *   would overflow the stack on the deepest);
 * - malformed bytes: truncated, wrong wire types, invalid UTF-8, lengths past
 *   the end, overlong varints, unbalanced groups, random bytes.
 */

/** One rpc of the API, as reflection describes it. */
export interface RpcMethod {
  /** `switchyard.v1.Registry/Create`: the case's name for it. */
  id: string;
  /** HTTP/2 path: `/switchyard.v1.Registry/Create`. */
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  serverStream: boolean;
  clientStream: boolean;
}

/** A generated case, in plain JSON (so a failing one can be saved as a regression file). */
export interface GrpcCase {
  method: string;
  /** The request message as sent (base64). */
  bytes: string;
  /** How it was made: `plausible`, `hostile`, or the name of the malformation. */
  shape: string;
  /** Whether the bytes are a message the server's decoder reads (a malformation may still be one). */
  decodes: boolean;
  /** x-switchyard-actor metadata, when the case sends one. */
  actor?: string;
}

/** The API's protos as a protobufjs root (the files the server loads). */
export function loadApiRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // google/protobuf/* are protobufjs' bundled definitions; the rest is under PROTO_DIR.
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(PROTO_DIR, target));
  root.loadSync(['switchyard/v1/registry.proto', 'switchyard/v1/config.proto']);
  root.resolveAll();
  return root;
}

/** Every rpc of every service under switchyard.v1. */
export function methodsOf(root: protobuf.Root): RpcMethod[] {
  const out: RpcMethod[] = [];
  const visit = (ns: protobuf.NamespaceBase) => {
    for (const o of ns.nestedArray) {
      if (o instanceof protobuf.Service) {
        const svc = o.fullName.replace(/^\./, '');
        for (const m of o.methodsArray) {
          m.resolve();
          out.push({ id: `${svc}/${m.name}`, path: `/${svc}/${m.name}`, requestType: m.resolvedRequestType!, responseType: m.resolvedResponseType!, serverStream: !!m.responseStream, clientStream: !!m.requestStream });
        }
      } else if (o instanceof protobuf.Namespace) visit(o);
    }
  };
  visit(root.lookup('switchyard.v1') as protobuf.Namespace);
  return out;
}

/** Decodes a message the way the server does (proto-loader: longs as numbers, defaults, oneofs). */
export function decodeLikeServer(type: protobuf.Type, bytes: Uint8Array): Record<string, any> {
  return type.toObject(type.decode(bytes), { longs: Number, enums: String, defaults: true, oneofs: true, arrays: true, objects: true });
}

const STRUCT = 'google.protobuf.Struct';
const fullName = (t: protobuf.Type) => t.fullName.replace(/^\./, '');

/** Strings for a field by its name: the pools that make requests meet (kinds, names, scopes, actions). */
function plausibleString(field: string): fc.Arbitrary<string> {
  switch (field) {
    case 'kind':
      return fc.constantFrom(...KINDS.filter((k) => k !== 'Config'));
    case 'kinds':
      return fc.constantFrom(...KINDS);
    case 'name':
      return fc.constantFrom(...NAMES, 'echo', 'api', 'e1', 'canary', 'ro', 'web', 'app.yaml', 'a');
    case 'names':
      return fc.constantFrom('echo', 'api', 'echo/e1', 'default/g/app.yaml', 'web', 'p1');
    case 'service':
      return fc.constantFrom('echo', 'api', 'otel');
    case 'namespace':
      return fc.constantFrom('default', 'prod');
    case 'group':
      return fc.constantFrom('DEFAULT_GROUP', 'g');
    case 'action':
      return fc.constantFrom(...ROLLOUT_ACTIONS);
    case 'labelSelector':
      return fc.constantFrom('', 'version=v1', 'version=v2,tier!=db', 'env in (a,b)', '!canary');
    case 'pageToken':
      return fc.constantFrom('', '', 'MQ', 'eyJrIjoiYSJ9');
    case 'instanceId':
      return fc.constantFrom('i-1', 'i-2', 'node-1');
    case 'error':
      return fc.constantFrom('', 'parse error');
    default:
      return fc.constantFrom('v1', 'v2', 'canary', 'a', '');
  }
}

/** Strings no field expects: control characters, lone surrogates, bidi overrides, past every length limit. */
const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom('', 'Gadget', 'service', 'ghost', 'teleport', 'a=b=c', 'in (', 'not-a-token', '%%%', 'x'.repeat(300)), weight: 2 },
  { arbitrary: fc.constantFrom('\u0000', 'a\u0000b', '\uD800', '\uDFFF', 'a\uD83D', '😀', '\u202Eevil', 'e\u0301', '\uFEFF', '\r\n', '../..', '__proto__', 'constructor', '*', ' ', "'; DROP TABLE resources; --", '9007199254740993', 'NaN', '-0'), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 3 },
  { arbitrary: fc.constantFrom(129, 257, 1025, 70_000, 600_000).chain((n) => fc.constantFrom('x', 'é', '\u0000', '😀').map((c) => c.repeat(Math.ceil(n / c.length)))), weight: 1 },
);

/** int64 values at the edges, as decimal strings (protobufjs encodes them exactly; the server reads them as doubles). */
const INT64_EDGES = ['0', '-1', '1', '2147483647', '2147483648', '-2147483649', '4294967296', '9007199254740991', '9007199254740992', '9007199254740993', '-9007199254740993', '9223372036854775807', '-9223372036854775808'];
const INT32_EDGES = [0, -1, 1, 2, 100, 1000, 1001, 2147483647, -2147483648];
/** Doubles that break assumptions: NaN, ±Infinity, −0, 2^53 and its neighbours, subnormals. */
export const DOUBLE_EDGES = [Number.NaN, Infinity, -Infinity, -0, 0, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e308, -1e308, 5e-324, 0.1, 65535, 65536, 2 ** 31, -1];

/** A scalar of a proto type: plausible, or (when `hostile`) at its edges. */
function scalar(type: string, field: string, hostile: boolean): fc.Arbitrary<unknown> {
  switch (type) {
    case 'string':
      return hostile ? fc.oneof({ arbitrary: plausibleString(field), weight: 1 }, { arbitrary: hostileString, weight: 2 }) : plausibleString(field);
    case 'bool':
      return fc.boolean();
    case 'double':
    case 'float':
      return hostile ? fc.constantFrom(...DOUBLE_EDGES) : fc.double({ min: -1e6, max: 1e6, noNaN: true });
    case 'int64':
    case 'uint64':
    case 'sint64':
    case 'fixed64':
    case 'sfixed64':
      return hostile ? fc.constantFrom(...INT64_EDGES) : fc.oneof(fc.constantFrom(0, 0, 1, 2, 3), fc.nat(50));
    case 'bytes':
      return fc.uint8Array({ maxLength: 16 });
    default:
      return hostile ? fc.constantFrom(...INT32_EDGES) : fc.oneof(fc.constantFrom(0, 1, 10, 100), fc.nat(1000));
  }
}

/** google.protobuf.Value (plain form) from JSON; numbers may be any double. */
export function toValue(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}

/** google.protobuf.Struct (plain form) from a JSON object. */
export function toStruct(o: Record<string, unknown>): Record<string, unknown> {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)])) };
}

/** A JSON value with numeric edges the wire carries (JSON cannot): hostile subtrees from the REST fuzzer, doubles swapped in. */
const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: hostileValue.map(unraw), weight: 3 },
  { arbitrary: fc.constantFrom(...DOUBLE_EDGES), weight: 2 },
  { arbitrary: fc.dictionary(fc.constantFrom('port', 'weight', 'protocol', 'a', ''), fc.constantFrom<unknown>(...DOUBLE_EDGES, 'x', null, []), { maxKeys: 3 }), weight: 1 },
);

/** The REST fuzzer's raw-token placeholders as the values they stand for (the wire can carry NaN and ±Infinity). */
function unraw(v: unknown): unknown {
  if (typeof v === 'string') {
    const m = /^\u0001raw:(.*)\u0001$/.exec(v);
    if (!m) return v;
    const n = /^nest:(\d+):([ao])$/.exec(m[1]);
    // Deep nesting in object form only to 40 (two messages a level; protobufjs refuses past 100 messages deep); deeper comes as bytes (deepStructCase).
    if (n) return nested(Math.min(Number(n[1]), 40), n[2] as 'a' | 'o');
    return Number(m[1]);
  }
  if (Array.isArray(v)) return v.map(unraw);
  // Many keys, but not the REST fuzzer's 100,000: 30,000 already pass every limit, and encoding more cost seconds a case.
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).slice(0, 30_000).map(([k, x]) => [k, unraw(x)]));
  return v;
}

function nested(depth: number, k: 'a' | 'o'): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = k === 'a' ? [v] : { a: v };
  return v;
}

/** Replaces one subtree of a JSON object (by a path of picks) with a hostile value. */
function mutateJson(o: Record<string, unknown>, picks: number[], replacement: unknown): Record<string, unknown> {
  const root = structuredClone(o);
  let node: any = root;
  for (let d = 0; d < picks.length; d++) {
    const keys = Object.keys(node);
    if (!keys.length) break;
    const k = keys[picks[d] % keys.length];
    if (d === picks.length - 1 || node[k] === null || typeof node[k] !== 'object') {
      node[k] = replacement;
      break;
    }
    node = node[k];
  }
  return root;
}

/** A Struct for a field: a resource's spec when the message is shaped like a resource, else small JSON; hostile subtrees when `hostile`. */
function structArb(hostile: boolean, specOf?: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  const base = specOf ?? fc.dictionary(fc.constantFrom('a', 'b', 'phase'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }).map((o) => o as Record<string, unknown>);
  if (!hostile) return base.map(toStruct);
  return fc.oneof(
    { arbitrary: fc.tuple(base, fc.array(fc.nat(100), { minLength: 1, maxLength: 5 }), hostileJson).map(([o, picks, r]) => toStruct(mutateJson(o, picks, r))), weight: 4 },
    { arbitrary: hostileJson.map((v) => toStruct(v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { v })), weight: 1 },
  );
}

/** Is the message shaped like a resource (a `kind` string and a Struct `spec`)? Then it is filled from the resource generators. */
const isResourceShaped = (t: protobuf.Type) => t.fields.kind?.type === 'string' && t.fields.spec?.resolvedType instanceof protobuf.Type && fullName(t.fields.spec.resolvedType) === STRUCT;

/**
 * Resources the API accepts, one at a time: a pool drawn once (fixed seed)
 * from fuzz-registry's registries (cross-field rules kept, references
 * resolving within the pools). Drawing a registry per case cost ~100 ms of
 * validation; the pool is the same on every run, so a case still replays.
 */
const acceptedResource: fc.Arbitrary<Record<string, unknown>> = fc.constant(null).chain(() => {
  acceptedPool ??= fc.sample(fuzzCaseArbitrary(), { seed: 16, numRuns: 40 }).flatMap((c) => c.resources as unknown as Record<string, unknown>[]);
  return fc.constantFrom(...acceptedPool);
});
let acceptedPool: Record<string, unknown>[] | undefined;

/** A resource body from the REST fuzzer's generators, in the message's plain form (`service` and `labels` where it has them). */
function resourceMessage(t: protobuf.Type, hostile: boolean): fc.Arbitrary<Record<string, unknown>> {
  const kinds = Object.keys(resourceArbitraries);
  const body = fc.oneof({ arbitrary: acceptedResource, weight: 3 }, { arbitrary: fc.constantFrom(...kinds).chain((kind) => resourceArbitraries[kind]), weight: 1 });
  return body.chain((b) =>
    fc.tuple(fc.constant(b), hostile ? structArb(true, fc.constant(b.spec as Record<string, unknown>)) : fc.constant(undefined), fc.option(fc.constantFrom(0, 1, 2), { nil: undefined })).map(([r, hostileSpec, version]) => {
      const m: Record<string, unknown> = { kind: r.kind, name: r.name, spec: hostileSpec ?? toStruct(r.spec as Record<string, unknown>) };
      if (t.fields.service && r.service) m.service = r.service;
      if (t.fields.labels && r.labels) m.labels = r.labels;
      if (t.fields.version && version !== undefined) m.version = version;
      return m;
    }),
  );
}

/**
 * The plain form of a message of `type` (protobufjs fromObject input):
 * each field present or not, repeated fields short (and sometimes huge when
 * `hostile`), nested messages to a bounded depth.
 */
export function messageArb(type: protobuf.Type, hostile: boolean, depth = 0): fc.Arbitrary<Record<string, unknown>> {
  if (fullName(type) === STRUCT) return structArb(hostile) as fc.Arbitrary<Record<string, unknown>>;
  if (isResourceShaped(type)) {
    const generic = genericMessage(type, hostile, depth);
    return fc.oneof({ arbitrary: resourceMessage(type, hostile), weight: 4 }, { arbitrary: generic, weight: 1 });
  }
  return genericMessage(type, hostile, depth);
}

function genericMessage(type: protobuf.Type, hostile: boolean, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of type.fieldsArray) {
    const sub = f.resolvedType;
    const one: fc.Arbitrary<unknown> =
      sub instanceof protobuf.Type ? (depth > 4 ? fc.constant({}) : messageArb(sub, hostile, depth + 1)) : sub instanceof protobuf.Enum ? fc.constantFrom(...Object.values(sub.values)) : scalar(f.type, f.name, hostile);
    if (f.map) {
      const key = scalar((f as unknown as protobuf.MapField).keyType, f.name, hostile) as fc.Arbitrary<string>;
      const keys = (f as unknown as protobuf.MapField).keyType === 'string' ? fc.oneof({ arbitrary: fc.constantFrom('version', 'track', 'env', 'constructor', '__proto__', 'echo', 'app.yaml'), weight: 3 }, { arbitrary: key, weight: hostile ? 1 : 0 }) : key;
      const many = hostile ? fc.constantFrom(0, 3, 1000, 20_000) : fc.constant(3);
      model[f.name] = many.chain((n) => (n > 3 ? fc.constant(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, f.type === 'string' ? 'v' : 1]))) : fc.dictionary(keys.map(String), one, { maxKeys: 3 })));
    } else if (f.repeated) {
      // Huge repeated fields of plausible items: of hostile ones (a 1 MB string) 20,000 copies would be gigabytes.
      const plain = sub instanceof protobuf.Type ? (depth > 4 ? fc.constant({}) : messageArb(sub, false, depth + 1)) : sub instanceof protobuf.Enum ? one : scalar(f.type, f.name, false);
      model[f.name] = hostile
        ? fc.oneof({ arbitrary: fc.array(one, { maxLength: 3 }), weight: 6 }, { arbitrary: fc.tuple(plain, fc.constantFrom(...(sub instanceof protobuf.Type ? [200, 2000] : [1000, 20_000]))).map(([x, n]) => Array.from({ length: n }, () => x)), weight: 1 })
        : fc.array(one, { maxLength: 3 });
    } else model[f.name] = one;
  }
  // Plausible: every field set (a missing field is a default the server may refuse); hostile: any of them.
  return fc.record(model, hostile ? { requiredKeys: [] } : undefined).map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
}

// ---- bytes -------------------------------------------------------------

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
const tag = (field: number, wire: number) => varint(field * 8 + wire);
/** A length-delimited field: tag, length, body. */
const ld = (field: number, body: Uint8Array | number[]): Uint8Array => Buffer.concat([Uint8Array.from([...tag(field, 2), ...varint(body.length)]), Uint8Array.from(body)]);

/** A path of message fields from `type` to a field that satisfies `want` (breadth first), with the field numbers along it. */
function pathTo(type: protobuf.Type, want: (f: protobuf.Field) => boolean): protobuf.Field[] | undefined {
  const queue: { t: protobuf.Type; path: protobuf.Field[] }[] = [{ t: type, path: [] }];
  const seen = new Set<string>();
  while (queue.length) {
    const { t, path } = queue.shift()!;
    if (seen.has(t.fullName)) continue;
    seen.add(t.fullName);
    for (const f of t.fieldsArray) {
      if (want(f)) return [...path, f];
      if (f.resolvedType instanceof protobuf.Type && !f.map && fullName(f.resolvedType) !== STRUCT) queue.push({ t: f.resolvedType, path: [...path, f] });
    }
  }
  return undefined;
}

/** `inner` wrapped in the length-delimited fields of `path` (outermost first). */
function wrap(path: protobuf.Field[], inner: Uint8Array): Uint8Array {
  let body = inner;
  for (const f of [...path].reverse()) body = ld(f.id, body);
  return body;
}

/**
 * A Struct nested `depth` levels (each level a Struct whose one field holds a
 * Value holding the next), as bytes, built inside out in O(depth): each level
 * is only a prefix before the next, so prefixes are computed from the inner
 * length outwards and written outermost first.
 */
export function deepStructBytes(depth: number, list: boolean): Uint8Array {
  // Innermost: Value{number_value = 1}.
  const innermost = Uint8Array.from([...tag(2, 1), 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
  const prefixes: number[][] = [];
  let len = innermost.length;
  for (let i = 0; i < depth; i++) {
    // list: Value{list_value(6) = ListValue{values(1) = inner Value}}; else Value{struct_value(5) = Struct{fields(1) = entry{key(1)="a", value(2) = inner Value}}}.
    const p = list
      ? (() => {
          const lv = [...tag(1, 2), ...varint(len)];
          return [...tag(6, 2), ...varint(lv.length + len), ...lv];
        })()
      : (() => {
          const entry = [...tag(1, 2), 1, 0x61, ...tag(2, 2), ...varint(len)];
          const st = [...tag(1, 2), ...varint(entry.length + len), ...entry];
          return [...tag(5, 2), ...varint(st.length + len), ...st];
        })();
    prefixes.push(p);
    len += p.length;
  }
  const out = new Uint8Array(len);
  let at = 0;
  for (let i = prefixes.length - 1; i >= 0; i--) {
    out.set(prefixes[i], at);
    at += prefixes[i].length;
  }
  out.set(innermost, at);
  // As a Struct: one field "a" holding the outermost Value.
  const entry = Buffer.concat([Uint8Array.from([...tag(1, 2), 1, 0x61, ...tag(2, 2), ...varint(out.length)]), out]);
  return ld(1, entry);
}

/** Bytes that are not UTF-8: a stray continuation, an overlong slash, a CESU surrogate, a 5-byte form, a cut sequence, 0xFF. */
const BAD_UTF8: number[][] = [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xff, 0xfe], [0x61, 0x00, 0x62]];

type Malformation = (valid: Uint8Array, m: RpcMethod, r: { pick: number; byte: number; n: number }) => Uint8Array;

/** Ways to break a valid encoding. */
const MALFORMATIONS: Record<string, Malformation> = {
  truncated: (v, _m, r) => v.slice(0, v.length ? r.pick % v.length : 0),
  'byte flipped': (v, _m, r) => {
    const out = Uint8Array.from(v.length ? v : [0]);
    out[r.pick % out.length] ^= r.byte || 0xff;
    return out;
  },
  'garbage appended': (v, _m, r) => Uint8Array.from([...v, ...Array.from({ length: 1 + (r.n % 12) }, (_, i) => (r.byte * (i + 7)) & 0xff)]),
  'wrong wire type': (v, m, r) => {
    // A known field number with another wire type (a string as a varint, a message as a fixed64, the invalid types 6 and 7).
    const f = m.requestType.fieldsArray[r.pick % Math.max(1, m.requestType.fieldsArray.length)];
    const wire = [0, 1, 2, 5, 6, 7][r.n % 6];
    const payload = wire === 0 ? [0x96, 0x01] : wire === 1 ? [1, 2, 3, 4, 5, 6, 7, 8] : wire === 2 ? [3, 1, 2, 3] : wire === 5 ? [1, 2, 3, 4] : [0];
    return Uint8Array.from([...tag(f?.id ?? 1, wire), ...payload, ...v]);
  },
  'length past the end': (v, m, r) => {
    const f = m.requestType.fieldsArray[r.pick % Math.max(1, m.requestType.fieldsArray.length)];
    return Uint8Array.from([...v, ...tag(f?.id ?? 1, 2), ...varint(1_000_000 + r.n), 0x61]);
  },
  'overlong varint': (v) => Uint8Array.from([0x08, ...Array(11).fill(0xff), 0x01, ...v]),
  'unbalanced group': (v, _m, r) => Uint8Array.from([...v, ...tag(15, r.n % 2 ? 3 : 4), 0x08, 0x01]),
  'huge field number': (v) => Uint8Array.from([...v, ...tag(2 ** 29 - 1, 0), 1]),
  'invalid UTF-8': (v, m, r) => {
    // Into a string field somewhere in the message (nested through its message fields).
    const path = pathTo(m.requestType, (f) => f.type === 'string' && (r.pick % 3 === 0 || f.name === 'name' || f.name === 'kind' || f.name === 'namespace'));
    if (!path) return Uint8Array.from([...v, 0xff]);
    const leaf = path.at(-1)!;
    return Uint8Array.from([...v, ...wrap(path.slice(0, -1), ld(leaf.id, Uint8Array.from([0x61, ...BAD_UTF8[r.n % BAD_UTF8.length], 0x62])))]);
  },
  'another message in a message field': (v, m, r) => {
    // Wire type 2 is every message's: the bytes of a different message decode as this one (fields mean other things).
    const path = pathTo(m.requestType, (f) => f.resolvedType instanceof protobuf.Type);
    if (!path) return v;
    return Uint8Array.from([...v, ...wrap(path, Uint8Array.from([...ld(1, [0x61]), ...tag(2, 0), 0x05, ...tag(6, 1), ...Array(8).fill(r.byte)]))]);
  },
  'random bytes': (_v, _m, r) => Uint8Array.from(Array.from({ length: r.n % 64 }, (_, i) => (r.byte * 31 + i * r.pick) & 0xff)),
  empty: () => new Uint8Array(0),
};

const malformationArb = fc.record({ kind: fc.constantFrom(...Object.keys(MALFORMATIONS)), pick: fc.nat(10_000), byte: fc.nat(255), n: fc.nat(1000) });

/** Deep Struct nesting in the first Struct the request holds: below, at and far past the server's depth limit and the decoder's stack. */
function deepStructCase(m: RpcMethod, valid: Uint8Array, depth: number, list: boolean): Uint8Array | undefined {
  const path = pathTo(m.requestType, (f) => f.resolvedType instanceof protobuf.Type && fullName(f.resolvedType) === STRUCT);
  if (!path) return undefined;
  return Buffer.concat([valid, wrap(path, deepStructBytes(depth, list))]);
}

/** Does the server's decoder read these bytes? */
export function decodes(m: RpcMethod, bytes: Uint8Array): boolean {
  try {
    // As a Buffer, as the server gets it: protobufjs reads a plain Uint8Array with another reader, which throws where this one does not.
    decodeLikeServer(m.requestType, Buffer.from(bytes));
    return true;
  } catch {
    return false;
  }
}

/** Encodes a plain message (protobufjs fromObject converts the int64 strings and the Struct values). */
function encode(type: protobuf.Type, plain: Record<string, unknown>): Uint8Array {
  return type.encode(type.fromObject(plain)).finish();
}

/** x-switchyard-actor values (metadata must be printable ASCII for grpc-js to send it). */
const actorArb = fc.option(fc.constantFrom('fuzzer', 'ci', '', ' ', 'e?', 'x'.repeat(900)), { nil: undefined, freq: 3 });

/**
 * Cases for one rpc: plausible requests (2 in 6), hostile ones (2 in 6),
 * malformed bytes (1 in 6) and, where the request holds a Struct, deep
 * nesting (1 in 12).
 */
export function caseArbitrary(m: RpcMethod): fc.Arbitrary<GrpcCase> {
  const toCase = (bytes: Uint8Array, shape: string, actor?: string): GrpcCase => ({ method: m.id, bytes: Buffer.from(bytes).toString('base64'), shape, decodes: decodes(m, bytes), ...(actor !== undefined ? { actor } : {}) });
  const plausible = messageArb(m.requestType, false);
  const hostile = messageArb(m.requestType, true);
  const arbs: fc.WeightedArbitrary<GrpcCase>[] = [
    { arbitrary: fc.tuple(plausible, actorArb).map(([p, a]) => toCase(encode(m.requestType, p), 'plausible', a)), weight: 4 },
    { arbitrary: fc.tuple(hostile, actorArb).map(([p, a]) => toCase(encode(m.requestType, p), 'hostile', a)), weight: 4 },
    { arbitrary: fc.tuple(plausible, malformationArb).map(([p, x]) => toCase(MALFORMATIONS[x.kind](encode(m.requestType, p), m, x), x.kind)), weight: 2 },
  ];
  if (pathTo(m.requestType, (f) => f.resolvedType instanceof protobuf.Type && fullName(f.resolvedType) === STRUCT)) {
    arbs.push({
      arbitrary: fc.tuple(plausible, fc.constantFrom(31, 33, 1000, 20_000, 60_000), fc.boolean()).map(([p, depth, list]) => toCase(deepStructCase(m, encode(m.requestType, p), depth, list)!, `Struct nested ${depth} deep${list ? ' (lists)' : ''}`)),
      weight: 1,
    });
  }
  return fc.oneof(...arbs);
}
