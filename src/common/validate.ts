import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError, type ValidatorOptions } from 'class-validator';
import { type FieldViolation, ValidationFailed } from './errors.js';

/** Options shared by the global ValidationPipe and every non-HTTP entry point. */
export const VALIDATOR_OPTIONS: ValidatorOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
};

const TYPE_RULES = ['whitelistValidation', 'isDefined', 'isObject', 'isArray', 'isString', 'isInt', 'isNumber', 'isBoolean', 'nestedValidation'];

/** Turns class-validator's error tree into `a.b[1].c: message` violations. */
export function flattenErrors(errors: ValidationError[], prefix = '', out: FieldViolation[] = []): FieldViolation[] {
  for (const e of errors) {
    const seg = /^\d+$/.test(e.property) ? `[${e.property}]` : prefix ? `.${e.property}` : e.property;
    const field = prefix + seg;
    let constraints = Object.entries(e.constraints ?? {});
    // A value of the wrong type fails every rule; report only the type problem.
    const typeRule = constraints.find(([rule]) => TYPE_RULES.includes(rule));
    if (typeRule) constraints = [typeRule];
    for (const [rule, msg] of constraints) {
      out.push({ field, message: rule === 'whitelistValidation' ? 'unknown field' : stripProperty(msg, e.property) });
    }
    // Into the one list, not push(...child): a spread of 200,000 errors overflows the stack (a 500).
    if (e.children?.length) flattenErrors(e.children, field, out);
  }
  return out;
}

function stripProperty(msg: string, property: string): string {
  if (msg.startsWith(`${property} `)) return msg.slice(property.length + 1);
  if (msg.startsWith(`nested property ${property} `)) return msg.slice(`nested property ${property} `.length);
  return msg;
}

/**
 * Validates a plain object against a DTO class; throws ValidationFailed with field paths.
 *
 * class-transformer's plainToInstance cannot be given free-form maps (labels,
 * accessLog `fields`) as they are: it skips keys named `constructor` and
 * `__proto__`, skips keys named like an Object.prototype member (`toString`,
 * `valueOf`), and throws a TypeError for an object whose `constructor` is a
 * string (it takes it for the object's class). So such keys are escaped
 * before the transform and restored after it, as own data properties (a
 * `__proto__` key never reaches a prototype). On a DTO instance such a key is
 * an unknown field, as any other would be. Nesting is bounded first: the
 * transform and the validator recurse, and a body nested deeper than the
 * call stack must be a 400, not a RangeError.
 */
export function validatePlain<T extends object>(cls: new () => T, plain: unknown, prefix = ''): T {
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) {
    throw new ValidationFailed([{ field: prefix || '(body)', message: 'must be an object' }]);
  }
  const unstorable: FieldViolation[] = [];
  const dto = plainToInstance(cls, escapeKeys(plain, prefix, 0, unstorable));
  const unknown = restoreKeys(dto, prefix);
  const errors = validateSync(dto as object, VALIDATOR_OPTIONS);
  if (errors.length || unknown.length) throw new ValidationFailed([...unknown, ...flattenErrors(errors, prefix)]);
  // After the schema, whose rules say more where a field has its own (a health check path: "NUL, CR or LF").
  if (unstorable.length) throw new ValidationFailed(unstorable);
  return dto;
}

/** How deep a body may nest (objects and arrays); the deepest resource schema is far shallower. */
export const MAX_DEPTH = 32;

/**
 * Most keys one object of a body may have. The largest free-form maps
 * (labels, accessLog fields, gray target labels) take 64; class-transformer's
 * handling of an object's keys is quadratic in their number (it dedupes them
 * with indexOf), so 200,000 keys blocked the event loop for a minute.
 */
export const MAX_KEYS = 1000;

/** Most items one array of a body may have; the longest lists of the schemas take 256. Transform and validation of 200,000 items took seconds. */
export const MAX_ITEMS = 10_000;

/** A string PostgreSQL cannot store (NUL; in jsonb \u0000 too), or that is not Unicode (a lone surrogate), and so could not be read back as written. */
export function unstorableString(s: string): string | undefined {
  if (s.includes('\u0000')) return 'must not contain NUL (\\u0000)';
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)) return 'must be valid Unicode (it has a lone surrogate)';
  return undefined;
}

/** Marks an escaped key; a key that starts with it is escaped too, so escaping is reversible. */
const MARK = '\u0000';
const needsEscape = (k: string) => k in Object.prototype || k.startsWith(MARK);
const child = (path: string, k: string | number) => (typeof k === 'number' || /^\d+$/.test(k) ? `${path}[${k}]` : path ? `${path}.${k}` : k);

/** Most unstorable strings reported: the first ones tell the client what is wrong. */
const MAX_REPORTED = 20;

/**
 * A copy of a JSON value with risky keys escaped; refuses nesting beyond
 * MAX_DEPTH, objects of more than MAX_KEYS keys and arrays of more than
 * MAX_ITEMS items, and adds to `bad` the
 * strings and keys the database could not store as sent.
 */
function escapeKeys(v: unknown, path: string, depth: number, bad: FieldViolation[]): unknown {
  if (typeof v === 'string') {
    const problem = bad.length < MAX_REPORTED ? unstorableString(v) : undefined;
    if (problem) bad.push({ field: path || '(body)', message: problem });
    return v;
  }
  if (v === null || typeof v !== 'object') return v;
  if (depth >= MAX_DEPTH) throw new ValidationFailed([{ field: path || '(body)', message: `nests deeper than ${MAX_DEPTH} levels` }]);
  if (Array.isArray(v)) {
    if (v.length > MAX_ITEMS) throw new ValidationFailed([{ field: path || '(body)', message: `has ${v.length} items; at most ${MAX_ITEMS}` }]);
    return v.map((x, i) => escapeKeys(x, child(path, i), depth + 1, bad));
  }
  const entries = Object.entries(v);
  if (entries.length > MAX_KEYS) throw new ValidationFailed([{ field: path || '(body)', message: `has ${entries.length} fields; at most ${MAX_KEYS}` }]);
  const out: Record<string, unknown> = {};
  for (const [k, x] of entries) {
    const problem = bad.length < MAX_REPORTED ? unstorableString(k) : undefined;
    if (problem) bad.push({ field: path || '(body)', message: `key ${JSON.stringify(k.slice(0, 64))} ${problem}` });
    out[needsEscape(k) ? MARK + k : k] = escapeKeys(x, child(path, k), depth + 1, bad);
  }
  return out;
}

/**
 * Puts escaped keys back, in place and in their order, on the plain objects
 * of a transformed DTO tree; on DTO instances they are unknown fields, and
 * are returned as such.
 */
function restoreKeys(v: unknown, path: string): FieldViolation[] {
  if (v === null || typeof v !== 'object') return [];
  if (Array.isArray(v)) return v.flatMap((x, i) => restoreKeys(x, child(path, i)));
  const obj = v as Record<string, unknown>;
  const out: FieldViolation[] = [];
  const entries = Object.entries(obj);
  if (entries.some(([k]) => k.startsWith(MARK))) {
    const plainObject = Object.getPrototypeOf(obj) === Object.prototype;
    for (const [k] of entries) delete obj[k];
    for (const [k, x] of entries) {
      const key = k.startsWith(MARK) ? k.slice(MARK.length) : k;
      if (key !== k && !plainObject) out.push({ field: child(path, key), message: 'unknown field' });
      else Object.defineProperty(obj, key, { value: x, enumerable: true, writable: true, configurable: true });
    }
  }
  for (const [k, x] of Object.entries(obj)) for (const v of restoreKeys(x, child(path, k))) out.push(v);
  return out;
}
