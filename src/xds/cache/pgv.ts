import { isIP } from 'node:net';
import protobuf from 'protobufjs';
import { envoyRoot } from './envoy-protos.js';

/** One broken `validate.rules` constraint, with the field path inside the resource. */
export interface PgvViolation {
  path: string;
  message: string;
}

type Rules = Record<string, any>;

const WELL_KNOWN: Record<string, { strict: RegExp; loose: RegExp }> = {
  HTTP_HEADER_NAME: { strict: /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/, loose: /^[^\u0000\u000A\u000D]*$/ },
  HTTP_HEADER_VALUE: { strict: /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/, loose: /^[^\u0000\u000A\u000D]*$/ },
};
const HOSTNAME = /^(?=.{1,253}$)([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*\.?$/;
const WRAPPERS = new Set(['DoubleValue', 'FloatValue', 'Int64Value', 'UInt64Value', 'Int32Value', 'UInt32Value', 'BoolValue', 'StringValue', 'BytesValue']);
const regexCache = new Map<string, RegExp | null>();

/** Rules the validator met but cannot check (e.g. an RE2-only pattern); reported, never silently passed. */
export const unsupportedRules = new Set<string>();

function rulesOf(opts: { parsedOptions?: unknown } | undefined, key: string): any {
  let out: any;
  for (const o of (opts?.parsedOptions as Record<string, any>[] | undefined) ?? []) if (key in o) out = typeof o[key] === 'object' && out && typeof out === 'object' ? deepMerge(out, o[key]) : o[key];
  return out;
}

function deepMerge(a: any, b: any): any {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? deepMerge(out[k], v) : v;
  return out;
}

const asArray = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const nanos = (d: any) => Number(d?.seconds ?? 0) * 1e9 + Number(d?.nanos ?? 0);

/**
 * Checks an encoded resource against the PGV annotations of its proto (read
 * from the loaded descriptors), recursing into messages, repeated fields, maps
 * and Any payloads whose type is known.
 */
export function validateEncoded(typeUrl: string, bytes: Uint8Array): PgvViolation[] {
  const type = envoyRoot().lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  const out: PgvViolation[] = [];
  validateMessage(type, type.decode(bytes), '', out);
  return out;
}

/** The items of one repeated message field, checked apart from the message that holds them (see validateEncodedSplit). */
interface Split {
  field: string;
  count: number;
  /** The violations of item `i`, with paths relative to the item. */
  item: (i: number) => PgvViolation[];
}

/** Thrown when a split field carries a rule that needs the items themselves. */
const CANNOT_SPLIT = Symbol('cannot split');

/**
 * The same violations, in the same order, as validateEncoded of the whole
 * message, for a message whose repeated message field `split.field` is left
 * out of `bytes` and whose items are checked one by one by `split.item` (a
 * caller can then keep each item's violations by item). Undefined when that
 * field has a rule needing the items' contents (unique items), or is not a
 * plain repeated message field.
 */
export function validateEncodedSplit(typeUrl: string, bytes: Uint8Array, split: Split): PgvViolation[] | undefined {
  const type = envoyRoot().lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1));
  const out: PgvViolation[] = [];
  try {
    validateMessage(type, type.decode(bytes), '', out, split);
  } catch (e) {
    if (e === CANNOT_SPLIT) return undefined;
    throw e;
  }
  return out;
}

/** Checks one message alone (paths relative to it): what validateEncodedSplit's `item` returns for an item of `typeName`. */
export function validateItem(typeName: string, bytes: Uint8Array): PgvViolation[] {
  const type = envoyRoot().lookupType(typeName);
  const out: PgvViolation[] = [];
  validateMessage(type, type.decode(bytes), '', out);
  return out;
}

function validateMessage(type: protobuf.Type, msg: any, path: string, out: PgvViolation[], split?: Split): void {
  if (rulesOf(type, '(validate.disabled)') === true || rulesOf(type, '(validate.ignored)') === true) {
    if (split) throw CANNOT_SPLIT;
    return;
  }
  for (const oneof of type.oneofsArray) {
    if (rulesOf(oneof, '(validate.required)') === true && !oneof.oneof.some((f) => Object.prototype.hasOwnProperty.call(msg, f)))
      out.push({ path: join(path, oneof.name), message: `one of ${oneof.oneof.join(', ')} is required` });
  }
  for (const field of type.fieldsArray) {
    // Only the chosen member of a oneof carries rules; the others are absent, not empty.
    if (field.partOf && !Object.prototype.hasOwnProperty.call(msg, field.name)) continue;
    field.resolve();
    const rules: Rules = rulesOf(field, '(validate.rules)') ?? {};
    const value = msg[field.name];
    const p = join(path, field.name);
    if (split?.field === field.name) {
      validateSplit(field, split, rules, p, out);
      continue;
    }
    if (field.map) validateMap(field as unknown as protobuf.MapField, value ?? {}, rules, p, out);
    else if (field.repeated) validateRepeated(field, value ?? [], rules, p, out);
    else validateValue(field, value, isSet(field, value) || !(field.resolvedType instanceof protobuf.Type), rules, p, out);
  }
}

function isSet(field: protobuf.Field, v: unknown): boolean {
  if (v === null || v === undefined) return false;
  if (field.resolvedType instanceof protobuf.Type) return true;
  return !(v === '' || v === 0 || v === false || (v instanceof Uint8Array && v.length === 0) || (typeof v === 'object' && 'low' in (v as object) && Number(v) === 0));
}

function validateRepeated(field: protobuf.Field, items: unknown[], rules: Rules, path: string, out: PgvViolation[]): void {
  const r = rules.repeated ?? {};
  if (r.min_items !== undefined && items.length < Number(r.min_items)) out.push({ path, message: `must have at least ${r.min_items} item(s)` });
  if (r.max_items !== undefined && items.length > Number(r.max_items)) out.push({ path, message: `must have at most ${r.max_items} item(s)` });
  if (r.unique) {
    const seen = new Set(items.map((i) => JSON.stringify(i)));
    if (seen.size !== items.length) out.push({ path, message: 'items must be unique' });
  }
  if (r.ignore_empty && items.length === 0) return;
  items.forEach((item, i) => validateValue(field, item, true, r.items ?? {}, `${path}[${i}]`, out));
}

/** validateRepeated for items checked apart: the same checks, in the same order, with each item's violations under its index. */
function validateSplit(field: protobuf.Field, split: Split, rules: Rules, path: string, out: PgvViolation[]): void {
  const r = rules.repeated ?? {};
  const items: Rules = r.items ?? {};
  const rt = field.resolvedType;
  // Only what validateValue does for a present message item: no unique check, no well-known type, no skip.
  if (!field.repeated || field.map || !(rt instanceof protobuf.Type) || r.unique || rt.parent?.name === 'protobuf' || items.message?.skip || Object.keys(items).some((k) => k !== 'message')) throw CANNOT_SPLIT;
  if (r.min_items !== undefined && split.count < Number(r.min_items)) out.push({ path, message: `must have at least ${r.min_items} item(s)` });
  if (r.max_items !== undefined && split.count > Number(r.max_items)) out.push({ path, message: `must have at most ${r.max_items} item(s)` });
  for (let i = 0; i < split.count; i++) for (const v of split.item(i)) out.push({ path: `${path}[${i}].${v.path}`, message: v.message });
}

function validateMap(field: protobuf.MapField, map: Record<string, unknown>, rules: Rules, path: string, out: PgvViolation[]): void {
  const r = rules.map ?? {};
  const n = Object.keys(map).length;
  if (r.min_pairs !== undefined && n < Number(r.min_pairs)) out.push({ path, message: `must have at least ${r.min_pairs} entries` });
  if (r.max_pairs !== undefined && n > Number(r.max_pairs)) out.push({ path, message: `must have at most ${r.max_pairs} entries` });
  for (const [k, v] of Object.entries(map)) {
    if (r.keys) checkScalar(field.keyType, k, r.keys, `${path}[${k}]`, out);
    validateValue(field as unknown as protobuf.Field, v, true, r.values ?? {}, `${path}[${k}]`, out);
  }
}

function validateValue(field: protobuf.Field, value: any, present: boolean, rules: Rules, path: string, out: PgvViolation[]): void {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Type) {
    if (rules.message?.required && !present) out.push({ path, message: 'is required' });
    if (!present) return;
    if (rt.name === 'Duration' && rt.parent?.name === 'protobuf') return checkDuration(value, rules.duration, path, out);
    if (rt.name === 'Timestamp' && rt.parent?.name === 'protobuf') return checkTimestamp(value, rules.timestamp, path, out);
    if (rt.name === 'Any' && rt.parent?.name === 'protobuf') return checkAny(value, rules.any, path, out);
    if (WRAPPERS.has(rt.name) && rt.parent?.name === 'protobuf') {
      const key = Object.keys(rules).find((k) => k !== 'message');
      if (key) checkScalar(rt.fields.value.type, value.value ?? rt.fields.value.typeDefault, rules[key], `${path}.value`, out, key);
      return;
    }
    if (rules.message?.skip) return;
    validateMessage(rt, value, path, out);
    return;
  }
  if (rt instanceof protobuf.Enum) {
    const r = rules.enum;
    if (!r) return;
    const v = Number(value ?? 0);
    if (r.defined_only && !Object.values(rt.values).includes(v)) out.push({ path, message: `${v} is not a defined ${rt.name} value` });
    if (r.const !== undefined && v !== Number(r.const)) out.push({ path, message: `must be ${r.const}` });
    if (r.in && !asArray(r.in).map(Number).includes(v)) out.push({ path, message: `must be one of ${asArray(r.in).join(', ')}` });
    if (r.not_in && asArray(r.not_in).map(Number).includes(v)) out.push({ path, message: `must not be ${v}` });
    return;
  }
  const key = Object.keys(rules)[0];
  if (key) checkScalar(field.type, value ?? field.typeDefault, rules[key], path, out, key);
}

function checkScalar(type: string, value: any, r: Rules, path: string, out: PgvViolation[], kind = type): void {
  if (!r || typeof r !== 'object') return;
  if (kind === 'string') return checkString(String(value ?? ''), r, path, out);
  if (kind === 'bytes') {
    const len = (value as Uint8Array | undefined)?.length ?? 0;
    if (r.min_len !== undefined && len < Number(r.min_len)) out.push({ path, message: `must be at least ${r.min_len} bytes` });
    if (r.max_len !== undefined && len > Number(r.max_len)) out.push({ path, message: `must be at most ${r.max_len} bytes` });
    return;
  }
  if (kind === 'bool') {
    if (r.const !== undefined && Boolean(value) !== r.const) out.push({ path, message: `must be ${r.const}` });
    return;
  }
  checkNumber(Number(value ?? 0), r, path, out);
}

function checkNumber(v: number, r: Rules, path: string, out: PgvViolation[]): void {
  if (r.const !== undefined && v !== Number(r.const)) out.push({ path, message: `must equal ${r.const}` });
  if (r.in && !asArray(r.in).map(Number).includes(v)) out.push({ path, message: `must be one of ${asArray(r.in).join(', ')}` });
  if (r.not_in && asArray(r.not_in).map(Number).includes(v)) out.push({ path, message: `must not be ${v}` });
  range(v, r, path, out, String);
}

// PGV ranges: with both bounds and lower > upper, the value must lie outside them.
function range(v: number, r: Rules, path: string, out: PgvViolation[], show: (x: any) => string): void {
  const lo = r.gt !== undefined ? { v: Number(r.gt), incl: false, raw: r.gt } : r.gte !== undefined ? { v: Number(r.gte), incl: true, raw: r.gte } : undefined;
  const hi = r.lt !== undefined ? { v: Number(r.lt), incl: false, raw: r.lt } : r.lte !== undefined ? { v: Number(r.lte), incl: true, raw: r.lte } : undefined;
  const aboveLo = lo ? (lo.incl ? v >= lo.v : v > lo.v) : true;
  const belowHi = hi ? (hi.incl ? v <= hi.v : v < hi.v) : true;
  if (lo && hi && lo.v > hi.v) {
    if (!aboveLo && !belowHi) out.push({ path, message: `must be outside (${show(hi.raw)}, ${show(lo.raw)})` });
    return;
  }
  if (!aboveLo) out.push({ path, message: `must be ${lo!.incl ? '>=' : '>'} ${show(lo!.raw)}` });
  if (!belowHi) out.push({ path, message: `must be ${hi!.incl ? '<=' : '<'} ${show(hi!.raw)}` });
}

function checkString(s: string, r: Rules, path: string, out: PgvViolation[]): void {
  const chars = [...s].length;
  const bytes = Buffer.byteLength(s);
  if (r.ignore_empty && s === '') return;
  if (r.const !== undefined && s !== r.const) out.push({ path, message: `must be ${JSON.stringify(r.const)}` });
  if (r.len !== undefined && chars !== Number(r.len)) out.push({ path, message: `must be exactly ${r.len} characters` });
  if (r.min_len !== undefined && chars < Number(r.min_len)) out.push({ path, message: `must be at least ${r.min_len} character(s)` });
  if (r.max_len !== undefined && chars > Number(r.max_len)) out.push({ path, message: `must be at most ${r.max_len} characters` });
  if (r.min_bytes !== undefined && bytes < Number(r.min_bytes)) out.push({ path, message: `must be at least ${r.min_bytes} bytes` });
  if (r.max_bytes !== undefined && bytes > Number(r.max_bytes)) out.push({ path, message: `must be at most ${r.max_bytes} bytes` });
  if (r.prefix !== undefined && !s.startsWith(r.prefix)) out.push({ path, message: `must start with ${JSON.stringify(r.prefix)}` });
  if (r.suffix !== undefined && !s.endsWith(r.suffix)) out.push({ path, message: `must end with ${JSON.stringify(r.suffix)}` });
  if (r.contains !== undefined && !s.includes(r.contains)) out.push({ path, message: `must contain ${JSON.stringify(r.contains)}` });
  if (r.not_contains !== undefined && s.includes(r.not_contains)) out.push({ path, message: `must not contain ${JSON.stringify(r.not_contains)}` });
  if (r.in && !asArray(r.in).includes(s)) out.push({ path, message: `must be one of ${asArray(r.in).join(', ')}` });
  if (r.not_in && asArray(r.not_in).includes(s)) out.push({ path, message: `must not be ${JSON.stringify(s)}` });
  if (r.pattern !== undefined) {
    const re = compile(r.pattern);
    if (re === null) unsupportedRules.add(`pattern ${r.pattern}`);
    else if (!re.test(s)) out.push({ path, message: `must match ${r.pattern}` });
  }
  if (r.well_known_regex) {
    const wk = WELL_KNOWN[r.well_known_regex];
    if (!wk) unsupportedRules.add(`well_known_regex ${r.well_known_regex}`);
    else if (!(r.strict === false ? wk.loose : wk.strict).test(s)) out.push({ path, message: `must be a valid ${r.well_known_regex.toLowerCase().replace(/_/g, ' ')}` });
  }
  if (r.ip && !isIP(s)) out.push({ path, message: 'must be an IP address' });
  if (r.ipv4 && isIP(s) !== 4) out.push({ path, message: 'must be an IPv4 address' });
  if (r.ipv6 && isIP(s) !== 6) out.push({ path, message: 'must be an IPv6 address' });
  if (r.hostname && !HOSTNAME.test(s)) out.push({ path, message: 'must be a hostname' });
  if (r.address && !isIP(s) && !HOSTNAME.test(s)) out.push({ path, message: 'must be an IP address or hostname' });
}

function compile(pattern: string): RegExp | null {
  if (!regexCache.has(pattern)) {
    let re: RegExp | null = null;
    try {
      re = new RegExp(pattern, 'u');
    } catch {
      try {
        re = new RegExp(pattern);
      } catch {
        re = null;
      }
    }
    regexCache.set(pattern, re);
  }
  return regexCache.get(pattern)!;
}

function checkDuration(d: any, r: Rules | undefined, path: string, out: PgvViolation[]): void {
  const v = nanos(d);
  if (Math.abs(Number(d?.nanos ?? 0)) >= 1e9) out.push({ path, message: 'nanos must be below one second' });
  if (!r) return;
  const show = (x: any) => `${nanos(x) / 1e9}s`;
  if (r.const !== undefined && v !== nanos(r.const)) out.push({ path, message: `must be ${show(r.const)}` });
  if (r.in && !asArray(r.in).map(nanos).includes(v)) out.push({ path, message: 'must be one of the allowed durations' });
  if (r.not_in && asArray(r.not_in).map(nanos).includes(v)) out.push({ path, message: 'must not be this duration' });
  const ns: Rules = {};
  for (const k of ['gt', 'gte', 'lt', 'lte']) if (r[k] !== undefined) ns[k] = nanos(r[k]);
  const before = out.length;
  range(v, ns, path, out, (x) => `${Number(x) / 1e9}s`);
  for (let i = before; i < out.length; i++) out[i].message = out[i].message.replace(/(\d+(\.\d+)?)s\b/g, '$1s');
}

function checkTimestamp(t: any, r: Rules | undefined, path: string, out: PgvViolation[]): void {
  if (!r) return;
  const ns: Rules = {};
  for (const k of ['gt', 'gte', 'lt', 'lte']) if (r[k] !== undefined) ns[k] = nanos(r[k]);
  range(nanos(t), ns, path, out, (x) => new Date(Number(x) / 1e6).toISOString());
  if (r.lt_now || r.gt_now || r.within) unsupportedRules.add('timestamp relative to now'); // needs a clock; translation has none
}

function checkAny(a: any, r: Rules | undefined, path: string, out: PgvViolation[]): void {
  const url: string = a.type_url ?? '';
  if (r?.in && !asArray(r.in).includes(url)) out.push({ path, message: `type must be one of ${asArray(r.in).join(', ')}` });
  if (r?.not_in && asArray(r.not_in).includes(url)) out.push({ path, message: `type ${url} is not allowed here` });
  const name = url.slice(url.lastIndexOf('/') + 1);
  let inner: protobuf.Type | undefined;
  try {
    inner = envoyRoot().lookupType(name);
  } catch {
    unsupportedRules.add(`Any payload ${url}`);
    return;
  }
  validateMessage(inner, inner.decode(a.value ?? new Uint8Array()), `${path}<${name.split('.').pop()}>`, out);
}

const join = (path: string, name: string) => (path ? `${path}.${name}` : name);
