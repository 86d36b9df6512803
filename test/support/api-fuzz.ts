import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { resourceArbitraries } from './fuzz-registry.js';

/*
 * Random REST requests for fuzzing the API (issue 16), derived from the
 * server's own OpenAPI document (/api/docs-json): every operation it lists is
 * a target, its path, query and header parameters and its request body are
 * generated from the schemas it declares, so a new route is fuzzed without a
 * change here. A body is one of: a value the schema allows (names from small
 * pools, so writes hit each other and references resolve), that value with a
 * few subtrees swapped for hostile ones (wrong types, huge strings and arrays,
 * deep nesting, unicode, NUL, numeric edges), or arbitrary JSON or YAML text.
 * JSON cannot carry NaN, ±Infinity or 1e400, so they are written into the
 * text as raw tokens (bad JSON: a 400), and as `.nan`, `.inf` in YAML (valid
 * YAML: the schema must refuse them).
 */

/** The parts of an OpenAPI 3 schema object this generator reads. */
export interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  format?: string;
  readOnly?: boolean;
  default?: unknown;
}

interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header';
  required?: boolean;
  schema?: Schema;
}

/** The OpenAPI document, as far as this file reads it. */
export interface OpenApiDocument {
  paths: Record<string, Record<string, { parameters?: OpenApiParameter[]; requestBody?: { required?: boolean; content: Record<string, { schema?: Schema }> }; responses: Record<string, { content?: Record<string, unknown> }> }>>;
  components: { schemas: Record<string, Schema> };
}

/** One operation of the document: a method on a path template. */
export interface Operation {
  id: string;
  method: string;
  path: string;
  params: OpenApiParameter[];
  /** Request body media types and their schemas; absent when the operation takes none. */
  body?: { required: boolean; content: Record<string, Schema | undefined> };
  /** Answers with a stream (SSE) or a long poll: the client stops waiting after the headers. */
  streaming: boolean;
}

/** A generated request, in plain JSON (so a failing one can be saved as a regression file). */
export interface FuzzRequest {
  /** The operation it targets (method and path template). */
  op: string;
  method: string;
  /** Path with query string, percent-encoded as sent. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Every operation of the document, in document order. */
export function operationsOf(doc: OpenApiDocument): Operation[] {
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.includes(method)) continue;
      const ok = op.responses['200']?.content ?? {};
      const content = op.requestBody ? Object.fromEntries(Object.entries(op.requestBody.content).map(([t, c]) => [t, c.schema])) : undefined;
      ops.push({
        id: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path,
        params: op.parameters ?? [],
        body: content ? { required: op.requestBody!.required ?? false, content } : undefined,
        streaming: 'text/event-stream' in ok || /\/(events|watch|stream)$/.test(path),
      });
    }
  }
  return ops;
}

/** Names the generator prefers: a few per kind, so that creates, reads, references and deletes meet. */
export const NAMES = ['echo', 'api', 'web', 'e1', 'p1', 'default', 'x'.repeat(63)];
const CONFIG_NAMES = ['app.yaml', 'DEFAULT_GROUP', 'order-service.properties', 'a'];

/** Values that break assumptions: numeric edges, wrong types, empty and odd strings. */
const EDGE_SCALARS: unknown[] = [
  null, true, false, 0, -0, 1, -1, 0.5, -1.5, 2 ** 31, 2 ** 31 - 1, -(2 ** 31) - 1, 2 ** 32, 2 ** 53, 2 ** 53 - 1, -(2 ** 53), 2 ** 64, 1e308, -1e308, 5e-324, 65535, 65536,
  '', ' ', '0', '-0', 'NaN', 'Infinity', 'true', 'null', '[]', '{}', '\u0000', 'a\u0000b', '\uD800', '\uDFFF', 'a\uD83D', '😀', '\u202Eevil', 'é', 'e\u0301', '\u00A0', '\uFEFF', '\r\n', '%00', '../..', '${x}', '{{x}}', "'; DROP TABLE resources; --", '__proto__', 'constructor', 'toString', '*', '"7"', [], {}, [null], { '': '' }, JSON.parse('{"__proto__":{"polluted":1}}'), { constructor: 'x' },
];

/** Raw number tokens JSON.stringify cannot write; a placeholder string is swapped for them in the text. */
const RAW_TOKENS = ['NaN', 'Infinity', '-Infinity', '-0', '1e400', '-1e400', '9007199254740993', '0.1e-400', '00', '+1', '.5', '0x10'];
const RAW = (t: string) => `\u0001raw:${t}\u0001`;
const YAML_TOKENS: Record<string, string> = { NaN: '.nan', Infinity: '.inf', '-Infinity': '-.inf', '-0': '-0', '1e400': '1e400', '-1e400': '-1e400', '9007199254740993': '9007199254740993', '0.1e-400': '0.1e-400', '00': '00', '+1': '+1', '.5': '.5', '0x10': '0x10' };

/** A string of any code points, lone surrogates and controls included. */
const anyString = (maxLength = 40) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: fc.constantFrom('\u0000', '\u0001', '\n', '\t', '\uD800', '\uDC00', '\u2028', '😀', 'é', '/', '%', '.', '-', 'a', 'Z', '0', ' ', '"', '\\'), maxLength }),
  );

/** Subtrees that are hostile wherever they land. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom(...EDGE_SCALARS), weight: 6 },
  { arbitrary: fc.constantFrom(...RAW_TOKENS).map(RAW), weight: 3 },
  { arbitrary: anyString(), weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 2 },
  // Huge strings: past every length limit, up to about half the body limit.
  { arbitrary: fc.constantFrom(1025, 4097, 70_000, 1_100_000).chain((n) => fc.constantFrom('x', 'é', '\u0000', '😀').map((c) => c.repeat(Math.ceil(n / c.length)))), weight: 1 },
  // Huge arrays and objects of many keys (class-transformer's key handling was quadratic in them).
  // Items are distinct objects: a later edit that lands in one must not change them all.
  { arbitrary: fc.constantFrom(1000, 20_000, 200_000).chain((n) => fc.constantFrom<unknown>(0, null, 'a', {}).map((x) => Array.from({ length: n }, () => structuredClone(x)))), weight: 1 },
  { arbitrary: fc.constantFrom(1000, 30_000, 100_000).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))), weight: 1 },
  // Deep nesting, of arrays or of objects, below and far beyond the server's depth limit.
  // Written as text (JSON.stringify itself would overflow the stack on the deepest).
  { arbitrary: fc.tuple(fc.constantFrom(31, 33, 1000, 20_000), fc.constantFrom('a', 'o')).map(([n, k]) => RAW(`nest:${n}:${k}`)), weight: 1 },
);

/** The text of a raw token: a number JSON cannot write, or `nest:<depth>:<a|o>` nested arrays or objects (flow style, so YAML too). */
function rawText(t: string, yaml: boolean): string {
  const m = /^nest:(\d+):([ao])$/.exec(t);
  if (m) return m[2] === 'a' ? '['.repeat(Number(m[1])) + '1' + ']'.repeat(Number(m[1])) : '{"a":'.repeat(Number(m[1])) + '1' + '}'.repeat(Number(m[1]));
  return yaml ? (YAML_TOKENS[t] ?? t) : t;
}

/** Resolves $ref and allOf of one member; oneOf/anyOf are chosen by the value generator. */
function resolve(doc: OpenApiDocument, s: Schema | undefined): Schema {
  if (!s) return {};
  if (s.$ref) return resolve(doc, doc.components.schemas[s.$ref.replace('#/components/schemas/', '')]);
  if (s.allOf?.length === 1 && !s.properties) return resolve(doc, s.allOf[0]);
  return s;
}

/** A string for a field: pool names for name-like patterns, else something the pattern and lengths allow. */
function stringFor(s: Schema): fc.Arbitrary<string> {
  if (s.format === 'date-time') return fc.constantFrom('2030-01-01T00:00:00Z', '2020-01-01T00:00:00.000Z', new Date(Date.UTC(2099, 0)).toISOString());
  const max = s.maxLength ?? 64;
  const min = s.minLength ?? 0;
  if (s.pattern) {
    const re = new RegExp(s.pattern);
    const pool = [...NAMES, ...CONFIG_NAMES].filter((n) => re.test(n) && n.length <= max && n.length >= min);
    const matching = fc.stringMatching(re).filter((x) => x.length <= max && x.length >= min);
    return pool.length ? fc.oneof({ arbitrary: fc.constantFrom(...pool), weight: 8 }, { arbitrary: matching, weight: 1 }) : matching;
  }
  return fc.oneof({ arbitrary: fc.constantFrom(...NAMES, ...CONFIG_NAMES).filter((x) => x.length <= max && x.length >= min), weight: 2 }, { arbitrary: fc.string({ minLength: min, maxLength: Math.min(max, 40) }), weight: 1 });
}

const configArb = fc.record({
  kind: fc.constant('Config'),
  namespace: fc.constantFrom('default', 'prod'),
  group: fc.constantFrom('DEFAULT_GROUP', 'g'),
  name: fc.constantFrom(...CONFIG_NAMES),
  labels: fc.dictionary(fc.constantFrom('env', 'app'), fc.constantFrom('v1', 'gray'), { maxKeys: 2 }),
  spec: fc.oneof(
    fc.record({ format: fc.constant('text'), content: fc.string({ maxLength: 200 }) }),
    fc.record({ format: fc.constant('json'), content: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) }),
    fc.record({ format: fc.constant('yaml'), content: fc.jsonValue({ maxDepth: 3 }).map((v) => toYaml(v)) }),
    fc.record({ format: fc.constant('properties'), content: fc.constantFrom('a=1\nb=2\n', 'x.y=z', '') }),
  ),
}, { requiredKeys: ['kind', 'name', 'spec'] });

/** Resource schemas of the document, and generators of bodies close to what the API accepts. */
const RESOURCES: Record<string, fc.Arbitrary<unknown>> = {
  ...Object.fromEntries(Object.entries(resourceArbitraries).map(([k, a]) => [`${k}Dto`, a])),
  ConfigDto: configArb,
};

/** A value the schema allows (as far as OpenAPI says: cross-field rules are not in it). */
export function schemaValue(doc: OpenApiDocument, schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
  // A resource: OpenAPI leaves out most of its rules (patterns of list items, addresses, URLs, cross-field rules), so take a generator that knows them.
  const resource = schema?.$ref && RESOURCES[schema.$ref.replace('#/components/schemas/', '')];
  if (resource) return fc.oneof({ arbitrary: resource, weight: 4 }, { arbitrary: schemaValue(doc, resolve(doc, schema), depth), weight: 1 });
  const s = resolve(doc, schema);
  if (s.enum?.length) return fc.constantFrom(...s.enum);
  const alts = s.oneOf ?? s.anyOf;
  if (alts?.length) return fc.oneof(...alts.map((a) => schemaValue(doc, a, depth)));
  if (s.allOf?.length) return schemaValue(doc, { ...s, allOf: undefined, ...Object.assign({}, ...s.allOf.map((a) => resolve(doc, a))) }, depth);
  if (depth > 8) return fc.constant(undefined);
  switch (s.type) {
    case 'string':
      return stringFor(s);
    case 'integer': {
      const min = s.minimum ?? -1000;
      const max = s.maximum ?? 100_000;
      return fc.oneof(fc.integer({ min, max }), fc.constantFrom(min, max));
    }
    case 'number':
      return fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'array': {
      const item = schemaValue(doc, s.items, depth + 1);
      return fc.array(item, { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 3, 3) });
    }
    default: {
      if (!s.properties) {
        const values = typeof s.additionalProperties === 'object' ? schemaValue(doc, s.additionalProperties, depth + 1) : fc.constantFrom('v1', 'v2', '%RESPONSE_CODE%', 'a.b_c-9');
        return fc.dictionary(fc.constantFrom('version', 'track', 'example.com/tier', 'code', 'env', 'constructor', 'toString'), values, { maxKeys: 3 });
      }
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, p] of Object.entries(s.properties)) if (!resolve(doc, p).readOnly) model[k] = schemaValue(doc, p, depth + 1);
      const required = (s.required ?? []).filter((k) => k in model);
      return fc.record(model, { requiredKeys: required }).map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
    }
  }
}

/** Replaces a few subtrees of a value with hostile ones; `picks` choose where (by index, modulo the children). */
function mutate(value: unknown, edits: { picks: number[]; depth: number; replacement: unknown; drop: boolean }[]): unknown {
  let root = structuredClone(value);
  for (const edit of edits) {
    // A copy: the edge values are shared constants, and a later edit may land inside this one.
    const e = { ...edit, replacement: structuredClone(edit.replacement) };
    if (root === null || typeof root !== 'object' || e.depth === 0) {
      root = e.replacement;
      continue;
    }
    let node = root as Record<string, unknown>;
    for (let d = 0; ; d++) {
      const keys = Object.keys(node);
      if (!keys.length) {
        if (Array.isArray(node)) (node as unknown[]).push(e.replacement);
        else node[['spec', 'name', 'kind', 'labels', 'port', 'x'][e.picks[d % e.picks.length] % 6]] = e.replacement;
        break;
      }
      const k = keys[e.picks[d % e.picks.length] % keys.length];
      const next = node[k];
      if (d + 1 >= e.depth || next === null || typeof next !== 'object') {
        if (e.drop && !Array.isArray(node)) delete node[k];
        else node[k] = e.replacement;
        break;
      }
      node = next as Record<string, unknown>;
    }
  }
  return root;
}

const editArb = fc.record({ picks: fc.array(fc.nat(1000), { minLength: 1, maxLength: 8 }), depth: fc.nat(6), replacement: hostileValue, drop: fc.boolean() });

/** A JSON value as request text, with raw-token placeholders swapped for the tokens. */
export function jsonText(v: unknown): string {
  return (JSON.stringify(v) ?? 'null').replace(/"\\u0001raw:([^"\\]*)\\u0001"/g, (_, t: string) => rawText(t, false));
}

/** A value as YAML text (a multi-document stream for an array when `multi`), raw tokens written as YAML numbers. */
export function yamlText(v: unknown, multi: boolean): string {
  const docs = multi && Array.isArray(v) ? v : [v];
  return docs
    .map((d) => toYaml(d, { aliasDuplicateObjects: false, lineWidth: 0 }).replace(/"\\x01raw:([^"\\]*)\\x01"/g, (_, t: string) => rawText(t, true)))
    .join('---\n');
}

/** YAML only a parser can love: aliases, tags, merge keys, duplicate keys, bad indentation. */
const YAML_ODDITIES = [
  'a: &a [1,2,3]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n',
  'kind: Service\nname: echo\nname: echo2\nspec: {protocol: grpc, port: 50051}\n',
  'kind: Service\nname: !!binary aGVsbG8=\nspec: {protocol: grpc, port: !!float .nan}\n',
  'kind: Service\nname: echo\nspec:\n  <<: {protocol: grpc}\n  port: 0x1F90\n',
  'kind: !!set {Service}\nname: echo\n',
  '--- !custom\nkind: Service\n',
  'kind: Service\nname: echo\nspec: {protocol: grpc, port: 2020-01-01}\n',
  'kind: Service\n name: bad-indent\n',
  '- kind: Service\n  name: echo\n  spec: {protocol: grpc, port: -.inf}\n- [[[[[[]]]]]]\n',
  '%YAML 1.1\n---\nkind: Service\nname: echo\nspec: {protocol: grpc, port: 0b101}\n',
  '',
  '---\n---\n---\n',
  '? [a, b]\n: c\n',
  `kind: Service\nname: "${'\\0'}"\nspec: {protocol: grpc, port: 1}\n`,
];

/** Text that is not quite JSON. */
const BAD_JSON = ['', '{', '[', '{"a":', 'null', '"str"', '1', 'true', '{"a":1,}', "{'a':1}", '{"a":NaN}', '{"a":Infinity}', '{"a":1e400}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}', '\uFEFF{}', '{"a":"\\ud800"}', '{"a":"\\u0000"}', '[]'.repeat(3)];

/** A body for an operation: a value to serialize (JSON, or YAML when `yaml`), or text as it is, with its content type. */
type Body = { value: unknown; yaml?: boolean; multi?: boolean; type: string } | { text: string; type: string };

function bodyArbitrary(doc: OpenApiDocument, op: Operation, clean: boolean): fc.Arbitrary<Body | undefined> {
  if (clean) {
    if (!op.body) return fc.constant(undefined);
    const type = Object.keys(op.body.content).find((t) => t.includes('json')) ?? Object.keys(op.body.content)[0];
    const valid = schemaValue(doc, op.body.content[type]);
    return op.body.content['application/yaml'] ? fc.tuple(valid, fc.boolean()).map(([value, yaml]) => (yaml ? { value, yaml, type: 'application/yaml' } : { value, type })) : valid.map((value) => ({ value, type }));
  }
  if (!op.body) return fc.oneof({ arbitrary: fc.constant(undefined), weight: 9 }, { arbitrary: fc.jsonValue({ maxDepth: 2 }).map((value) => ({ value, type: 'application/json' })), weight: 1 });
  const types = Object.keys(op.body.content);
  const jsonType = types.find((t) => t.includes('json')) ?? types[0];
  const yaml = types.includes('application/yaml');
  const jsonSchema = op.body.content[jsonType];
  const valid = schemaValue(doc, jsonSchema);
  const value = fc.oneof(
    { arbitrary: valid, weight: 6 },
    { arbitrary: fc.tuple(valid, fc.array(editArb, { minLength: 1, maxLength: 3 })).map(([v, edits]) => mutate(v, edits)), weight: 5 },
    { arbitrary: hostileValue, weight: 1 },
    { arbitrary: fc.jsonValue({ maxDepth: 4 }), weight: 1 },
  );
  const arbs: fc.WeightedArbitrary<Body | undefined>[] = [
    { arbitrary: fc.tuple(value, fc.constantFrom(...types.filter((t) => t.includes('json')))).map(([v, type]) => ({ value: v, type })), weight: 12 },
    { arbitrary: fc.constantFrom(...BAD_JSON).map((text) => ({ text, type: jsonType })), weight: 1 },
    // Content types the route does not take, or JSON in a charset body-parser refuses.
    { arbitrary: fc.tuple(value, fc.constantFrom('text/plain', 'application/xml', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/yaml', '')).map(([v, type]) => ({ value: v, type })), weight: 1 },
  ];
  if (!op.body.required) arbs.push({ arbitrary: fc.constant(undefined), weight: 2 });
  if (yaml) {
    arbs.push({ arbitrary: fc.tuple(value, fc.boolean()).map(([v, multi]) => ({ value: v, yaml: true, multi, type: 'application/yaml' })), weight: 6 });
    arbs.push({ arbitrary: fc.constantFrom(...YAML_ODDITIES).map((text) => ({ text, type: 'application/yaml' })), weight: 2 });
  }
  return fc.oneof(...arbs);
}

/** Path parameters a body names too; a body made to agree with its URL gets past "must match the name in the URL". */
const SCOPE_PARAMS = ['name', 'service', 'namespace', 'group'];

function bodyText(b: Body, params: Record<string, string>, agree: boolean): string {
  if ('text' in b) return b.text;
  let v = b.value;
  if (agree && v !== null && typeof v === 'object' && !Array.isArray(v)) {
    v = { ...v };
    for (const p of SCOPE_PARAMS) if (p in params) (v as Record<string, unknown>)[p] = params[p];
  }
  return b.yaml ? yamlText(v, b.multi ?? false) : jsonText(v);
}

/** A path segment: mostly a plausible value, sometimes any string, sometimes a malformed escape. */
function plausibleSegment(doc: OpenApiDocument, p: OpenApiParameter): fc.Arbitrary<string> {
  const s = resolve(doc, p.schema);
  const values = s.enum?.length ? s.enum.map(String) : p.name === 'namespace' ? ['default', 'prod'] : p.name === 'group' ? ['DEFAULT_GROUP', 'g'] : ['version', 'revision'].includes(p.name) ? ['1', '2', '3'] : [...NAMES, ...CONFIG_NAMES, 'node-1'];
  return fc.constantFrom(...values).map(encodeURIComponent);
}

function segmentArbitrary(doc: OpenApiDocument, p: OpenApiParameter): fc.Arbitrary<string> {
  const plausible = plausibleSegment(doc, p);
  return fc.oneof(
    { arbitrary: plausible, weight: 12 },
    { arbitrary: fc.oneof(anyString(), fc.constantFrom(...EDGE_SCALARS.filter((x) => typeof x === 'string')) as fc.Arbitrary<string>).filter((x) => x.length > 0).map(safeEncode), weight: 2 },
    { arbitrary: fc.constantFrom('%', '%E0%A4%A', '%ZZ', '%00', '%C0%AE%C0%AE', '..', '%2e%2e', '%2F', 'a%2Fb', 'x'.repeat(10_000), '-1', '1e3', '9007199254740993', 'NaN'), weight: 1 },
  );
}

/** encodeURIComponent, except a lone surrogate (which it refuses) is sent as a malformed escape. */
function safeEncode(x: string): string {
  try {
    return encodeURIComponent(x);
  } catch {
    return encodeURIComponent(x.replace(/[\uD800-\uDFFF]/g, '')) + '%ED%A0%80';
  }
}

/** A query value: mostly what the schema allows, sometimes not. */
function plausibleQuery(doc: OpenApiDocument, p: OpenApiParameter): fc.Arbitrary<string> {
  const s = resolve(doc, p.schema);
  if (p.name === 'timeoutMs') return fc.constantFrom('0', '10', '100');
  if (p.name === 'namespace') return fc.constantFrom('default', 'prod');
  if (p.name === 'group') return fc.constantFrom('DEFAULT_GROUP', 'g');
  return s.type === 'integer' || s.type === 'number' || s.type === 'boolean' || s.enum ? schemaValue(doc, s).map(String) : fc.constantFrom(...NAMES, 'version=v2,tier!=db', 'env in (a,b)', '!canary', 'a=b=c', '1', 'service/name', 'app.yaml:3', '');
}

function queryArbitrary(doc: OpenApiDocument, p: OpenApiParameter): fc.Arbitrary<string[]> {
  const plausible = plausibleQuery(doc, p);
  const hostile = fc.oneof(anyString(20), fc.constantFrom('-1', '0', '1.5', '1e3', '2147483648', '9007199254740993', 'NaN', 'Infinity', '-0', 'true', 'yes', '', 'x'.repeat(5000), 'in (', '=', ',,,', '!', '((a))'));
  return fc.oneof({ arbitrary: plausible.map((v) => [v]), weight: 8 }, { arbitrary: hostile.map((v) => [v]), weight: 2 }, { arbitrary: fc.array(plausible, { minLength: 2, maxLength: 3 }), weight: 1 });
}

/** A header value (Latin-1 printable only: fetch refuses anything else). */
const headerValue = fc.oneof(fc.constantFrom('"1"', '"2"', '*', '"1", "2"', 'W/"1"', '"x"', '1', '', '"-1"', '"9007199254740993"', '"0"'), fc.string({ unit: fc.constantFrom('a', '"', ',', ' ', '*', '1', '-', 'é', '/'), maxLength: 20 }));

/**
 * Requests for one operation: mostly hostile somewhere (path, query,
 * headers or body), and a share of clean ones (plausible parameters, a body
 * the schema allows and agreeing with the URL, no odd headers), so that
 * writes get accepted, state builds up and the round trip has work.
 */
export function requestArbitrary(doc: OpenApiDocument, op: Operation): fc.Arbitrary<FuzzRequest> {
  return fc.oneof({ arbitrary: requestsOf(doc, op, false), weight: 3 }, { arbitrary: requestsOf(doc, op, true), weight: 2 });
}

function requestsOf(doc: OpenApiDocument, op: Operation, clean: boolean): fc.Arbitrary<FuzzRequest> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const query = op.params.filter((p) => p.in === 'query');
  const segments = fc.tuple(...pathParams.map((p) => (clean ? plausibleSegment(doc, p) : segmentArbitrary(doc, p))));
  const queryValues = fc.tuple(...query.map((p) => fc.option(clean ? plausibleQuery(doc, p).map((v) => [v]) : queryArbitrary(doc, p), { nil: undefined, freq: p.required ? 8 : 2 })));
  const extraQuery = clean ? fc.constant(undefined) : fc.option(fc.tuple(fc.constantFrom('dryRun', 'cascade', 'x', 'limit[]', '__proto__', 'timeoutMs'), fc.constantFrom('true', '1', 'false', '', '[]')), { nil: undefined, freq: 8 });
  const headers = clean ? fc.constant({}) : fc.record({ 'if-match': headerValue, 'x-switchyard-actor': headerValue, 'x-request-id': headerValue }, { requiredKeys: [] });
  return fc.tuple(segments, queryValues, extraQuery, headers, bodyArbitrary(doc, op, clean), clean ? fc.constant(true) : fc.boolean()).map(([segs, qv, extra, hdrs, body, agree]) => {
    let path = op.path;
    const params: Record<string, string> = {};
    pathParams.forEach((p, i) => {
      path = path.replace(`{${p.name}}`, segs[i]);
      try {
        params[p.name] = decodeURIComponent(segs[i]);
      } catch {
        /* a malformed escape: nothing to agree with */
      }
    });
    const qs: string[] = [];
    query.forEach((p, i) => {
      for (const v of qv[i] ?? []) qs.push(`${encodeURIComponent(p.name)}=${safeEncode(v)}`);
    });
    if (extra) qs.push(`${encodeURIComponent(extra[0])}=${extra[1]}`);
    const h: Record<string, string> = Object.fromEntries(Object.entries(hdrs).filter(([, v]) => v !== undefined)) as Record<string, string>;
    // fetch sends no body with GET (nor does any client the API serves).
    const sent = op.method === 'GET' ? undefined : body;
    if (sent?.type) h['content-type'] = sent.type;
    return { op: op.id, method: op.method, path: qs.length ? `${path}?${qs.join('&')}` : path, headers: h, ...(sent ? { body: bodyText(sent, params, agree) } : {}) };
  });
}

/** Requests across every operation, each operation equally likely. */
export function apiRequestArbitrary(doc: OpenApiDocument, ops: Operation[] = operationsOf(doc)): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(...ops.map((op) => requestArbitrary(doc, op)));
}
