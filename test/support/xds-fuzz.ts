import fc from 'fast-check';
import { TYPE } from '../../src/translate/envoy-types.js';
import { encodeDeltaRequest, encodeRequest } from '../../tools/xds-wire.js';

/*
 * Adversarial xDS (ADS) clients for property-based fuzzing: what one stream
 * sends, as plain JSON (bytes as hex), so a failing case can be saved under
 * test/regressions/xds and replayed. Large inputs (huge name lists, floods,
 * subscribe/unsubscribe loops) are described by their size and expanded when
 * the case runs, so shrinking and saving stay cheap.
 */

/** The fixed default seed; FUZZ_SEED and FUZZ_RUNS override seed and case count. */
export const DEFAULT_XDS_FUZZ_SEED = 4242;

/** Which service a stream opens: ADS, a per-type service, or a method the server does not have. */
export type XdsPath = 'ads' | 'cds' | 'eds' | 'lds' | 'rds' | 'bogus';

/** Where a request's response_nonce comes from; resolved when the case runs. */
export type NonceSpec =
  | { kind: 'none' }
  | { kind: 'garbage'; value: string }
  /** A nonce the reference client received on its own stream (another stream's nonce). */
  | { kind: 'foreign'; index: number }
  /** The nonce of this stream's last response. */
  | { kind: 'last' }
  /** The nonce of an earlier response on this stream (superseded). */
  | { kind: 'stale' };

/** A request, as fields for the tools/xds-wire.ts encoders (SotW or Delta by the case's protocol). */
export interface RequestSpec {
  node?: Record<string, unknown> | 'none';
  type_url: string;
  version_info?: string;
  resource_names?: string[];
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  nonce: NonceSpec;
  error_detail?: { code: number; message: string };
}

/** One step of an adversarial stream. */
export type Step =
  | { t: 'req'; req: RequestSpec }
  /** Bytes sent as they are (a request that may not decode). */
  | { t: 'raw'; hex: string }
  /** An ACK or NACK of this stream's last response, with its version, another one, or none. */
  | { t: 'answer'; nack: boolean; version: 'same' | 'wrong' | 'empty'; waitMs: number }
  /** One request subscribing to `count` generated names of `len` characters (SotW resource_names, or Delta subscribe). */
  | { t: 'huge'; type_url: string; count: number; len: number }
  /** `count` copies of a request written back to back without waiting (the versions and nonces vary). */
  | { t: 'flood'; req: RequestSpec; count: number }
  /** Delta: `ops` alternating subscribe/unsubscribe requests over `distinct` names, back to back. */
  | { t: 'churn'; type_url: string; ops: number; distinct: number; batch: number };

/** One adversarial stream. */
export interface XdsCase {
  protocol: 'sotw' | 'delta';
  path: XdsPath;
  /** Stop reading responses while sending (a client slower than the server). */
  paused: boolean;
  steps: Step[];
}

const KNOWN_TYPES = [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route];
/** Names that exist in the fixtures, names that do not, and hostile ones. */
const NAME = fc.oneof(
  fc.constantFrom('echo/v1', 'echo/v2', 'echo', 'edge', '*', ''),
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom('\u0000', '\u0001', 'a\u0000b', '/'.repeat(300), 'x'.repeat(5000)),
);

export const typeUrlArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KNOWN_TYPES) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      'type.googleapis.com/envoy.config.cluster.v3.Clusters',
      'type.googleapis.com/envoy.config.core.v3.Secret',
      'type.googleapis.com/envoy.service.runtime.v3.Runtime',
      'type.googleapis.com/envoy.config.cluster.v3.Cluster\u0000',
      'TYPE.GOOGLEAPIS.COM/ENVOY.CONFIG.CLUSTER.V3.CLUSTER',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
);

/** Nodes: well-formed ones in a few groups (so adversarial streams share the reference clients' group), odd ids and fields. */
export const nodeArb = fc.record(
  {
    id: fc.oneof(fc.constantFrom('fuzz', '', 'p1'), fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 10 })),
    // A few groups only: node groups are never evicted, so unbounded cluster values would grow memory (known, left alone).
    cluster: fc.constantFrom('default', '', 'fuzz-a'),
    user_agent_name: fc.constantFrom('envoy', 'gRPC Node Pure JS', 'grpc-go', '', 'curl'),
    user_agent_version: fc.string({ maxLength: 10 }),
    locality: fc.constantFrom({}, { region: 'r1', zone: 'z1' }),
    metadata: fc.constantFrom(undefined, { fields: { 'switchyard.io/client': { string_value: 'proxyless' } } }, { fields: { 'switchyard.io/client': { number_value: 3 } } }, { fields: {} }),
  },
  { requiredKeys: ['id'] },
);

const nonceArb: fc.Arbitrary<NonceSpec> = fc.oneof(
  fc.constant<NonceSpec>({ kind: 'none' }),
  fc.constant<NonceSpec>({ kind: 'last' }),
  fc.constant<NonceSpec>({ kind: 'stale' }),
  fc.nat({ max: 1000 }).map((index): NonceSpec => ({ kind: 'foreign', index })),
  fc.oneof(fc.constantFrom('1', '0', 'u.1', '-1', 'zzzzzz'), fc.string({ maxLength: 30 })).map((value): NonceSpec => ({ kind: 'garbage', value })),
);

const errorArb = fc.option(fc.record({ code: fc.integer({ min: -5, max: 20 }), message: fc.string({ maxLength: 200 }) }), { nil: undefined });

function requestArb(protocol: 'sotw' | 'delta', first: boolean): fc.Arbitrary<RequestSpec> {
  const node = first
    ? fc.oneof({ weight: 8, arbitrary: nodeArb as fc.Arbitrary<RequestSpec['node']> }, { weight: 1, arbitrary: fc.constant<RequestSpec['node']>('none') })
    : fc.option(nodeArb as fc.Arbitrary<RequestSpec['node']>, { nil: undefined, freq: 4 });
  const names = fc.array(NAME, { maxLength: 8 });
  if (protocol === 'sotw')
    return fc.record({ node, type_url: typeUrlArb, version_info: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }), resource_names: names, nonce: nonceArb, error_detail: errorArb });
  return fc.record({
    node,
    type_url: typeUrlArb,
    resource_names_subscribe: names,
    resource_names_unsubscribe: names,
    initial_resource_versions: fc.dictionary(NAME, fc.string({ maxLength: 30 }), { maxKeys: 4 }),
    nonce: nonceArb,
    error_detail: errorArb,
  });
}

/** Field 2 (node) with invalid content; the rest of a valid request after it. */
const BAD_NODES = [
  [0xa7, 0x06, 0x00], // an unknown field with the invalid wire type 7
  [0x0a, 0x7f, 0x41], // id claims 127 bytes, has 1
  [0x0a], // a tag without its value
  [0x62, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff], // metadata with a length that overruns
  [0x0a, 0x02, 0xc3, 0x28], // id: invalid UTF-8
];

/** Encodes a request, then damages it: truncates, flips bytes, adds a field of the wrong wire type, nests an invalid node, or random bytes. */
function rawArb(protocol: 'sotw' | 'delta'): fc.Arbitrary<Step> {
  const enc = (r: RequestSpec) => encodeSpec(protocol, r, () => '');
  const corrupt = fc.oneof(
    fc.tuple(requestArb(protocol, true), fc.double({ min: 0, max: 1, noNaN: true })).map(([r, f]) => {
      const b = enc(r);
      return b.subarray(0, Math.floor(b.length * f));
    }),
    fc.tuple(requestArb(protocol, true), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 })).map(([r, flips]) => {
      const b = Buffer.from(enc(r));
      for (const [at, v] of flips) if (b.length) b[at % b.length] = v;
      return b;
    }),
    // A known field number with the wrong wire type (e.g. type_url as a varint), before or after a valid request.
    fc.tuple(requestArb(protocol, true), fc.integer({ min: 1, max: 7 }), fc.constantFrom(0, 1, 5), fc.boolean()).map(([r, field, wire, before]) => {
      const junk = Buffer.from([(field << 3) | wire, ...(wire === 0 ? [0x96, 0x01] : wire === 1 ? [1, 2, 3, 4, 5, 6, 7, 8] : [1, 2, 3, 4])]);
      return before ? Buffer.concat([junk, enc(r)]) : Buffer.concat([enc(r), junk]);
    }),
    fc.tuple(fc.constantFrom(...BAD_NODES), typeUrlArb).map(([node, t]) => {
      const type = Buffer.from(t);
      return Buffer.concat([Buffer.from([0x12, node.length, ...node]), Buffer.from([0x22, type.length]), type]);
    }),
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    // A resource name of invalid UTF-8, and one whose length overruns the message.
    fc.constantFrom(Buffer.from([0x1a, 0x02, 0xc3, 0x28]), Buffer.from([0x1a, 0x7f, 0x41]), Buffer.from([0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f])),
  );
  return corrupt.map((b): Step => ({ t: 'raw', hex: Buffer.from(b).toString('hex') }));
}

function stepArb(protocol: 'sotw' | 'delta'): fc.Arbitrary<Step> {
  return fc.oneof(
    { weight: 6, arbitrary: requestArb(protocol, false).map((req): Step => ({ t: 'req', req })) },
    { weight: 2, arbitrary: rawArb(protocol) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('answer' as const), nack: fc.boolean(), version: fc.constantFrom('same' as const, 'wrong' as const, 'empty' as const), waitMs: fc.constantFrom(0, 20, 100) }) },
    // Huge lists: a few thousand names in most runs, up to ~100,000 (a few MB, well under the 16 MiB cap) now and then.
    {
      weight: 1,
      arbitrary: fc.record({ t: fc.constant('huge' as const), type_url: fc.constantFrom(TYPE.endpoint, TYPE.route, TYPE.cluster), count: fc.oneof(fc.integer({ min: 1000, max: 5000 }), fc.integer({ min: 20_000, max: 100_000 })), len: fc.integer({ min: 1, max: 60 }) }),
    },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('flood' as const), req: requestArb(protocol, false), count: fc.integer({ min: 50, max: 1500 }) }) },
  );
}

/** A Delta subscribe/unsubscribe loop: a node, then `ops` requests back to back. */
const churnArb: fc.Arbitrary<XdsCase> = fc
  .record({ node: nodeArb, type_url: fc.constantFrom(TYPE.endpoint, TYPE.route, TYPE.cluster), ops: fc.integer({ min: 100, max: 2000 }), distinct: fc.integer({ min: 1, max: 5000 }), batch: fc.integer({ min: 1, max: 50 }), paused: fc.boolean() })
  .map(({ node, type_url, ops, distinct, batch, paused }) => ({
    protocol: 'delta' as const,
    path: 'ads' as const,
    paused,
    steps: [
      { t: 'req' as const, req: { node, type_url, resource_names_subscribe: ['echo/v1'], nonce: { kind: 'none' as const } } },
      { t: 'churn' as const, type_url, ops, distinct, batch },
    ],
  }));

/** Any adversarial stream: a first request (valid, odd, or damaged), then a mix of steps. */
export const xdsCaseArb: fc.Arbitrary<XdsCase> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.constantFrom('sotw' as const, 'delta' as const).chain((protocol) =>
      fc.record({
        protocol: fc.constant(protocol),
        path: fc.oneof({ weight: 8, arbitrary: fc.constant('ads' as const) }, { weight: 3, arbitrary: fc.constantFrom('cds' as const, 'eds' as const, 'lds' as const, 'rds' as const, 'bogus' as const) }),
        paused: fc.boolean(),
        steps: fc.tuple(fc.oneof({ weight: 5, arbitrary: requestArb(protocol, true).map((req): Step => ({ t: 'req', req })) }, { weight: 1, arbitrary: rawArb(protocol) }), fc.array(stepArb(protocol), { maxLength: 8 })).map(([a, rest]) => [a, ...rest]),
      }),
    ),
  },
  { weight: 1, arbitrary: churnArb },
);

/** The request as bytes; `nonce` resolves the case's nonce spec on the live stream. */
export function encodeSpec(protocol: 'sotw' | 'delta', r: RequestSpec, nonce: (n: NonceSpec) => string): Buffer {
  const node = r.node === 'none' ? undefined : r.node;
  const common = { ...(node ? { node } : {}), type_url: r.type_url, response_nonce: nonce(r.nonce), ...(r.error_detail ? { error_detail: r.error_detail } : {}) };
  if (protocol === 'sotw') return encodeRequest({ ...common, version_info: r.version_info ?? '', resource_names: r.resource_names ?? [] } as never);
  return encodeDeltaRequest({
    ...common,
    resource_names_subscribe: r.resource_names_subscribe ?? [],
    resource_names_unsubscribe: r.resource_names_unsubscribe ?? [],
    initial_resource_versions: r.initial_resource_versions ?? {},
  } as never);
}

/** `count` distinct names of about `len` characters (deterministic). */
export function hugeNames(count: number, len: number, prefix = 'n'): string[] {
  const pad = 'x'.repeat(Math.max(0, len - 8));
  return Array.from({ length: count }, (_, i) => `${prefix}${i.toString(36)}${pad}`);
}

