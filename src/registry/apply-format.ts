import YAML from 'yaml';
import { ValidationFailed } from '../common/errors.js';
import { MAX_KEYS } from '../common/validate.js';

/**
 * Reads an apply body: a YAML stream (documents separated by ---), a JSON
 * array, `{resources: [...]}`, or a single resource object.
 */
export function parseApplyBody(body: unknown): unknown[] {
  if (typeof body === 'string') {
    const invalid = (field: string, e: unknown) => new ValidationFailed([{ field, message: `invalid YAML: ${e instanceof RangeError ? 'nested too deeply' : (e as Error).message.split('\n')[0]}` }]);
    let docs: ReturnType<typeof YAML.parseAllDocuments>;
    try {
      // The parser's own uniqueKeys check compares every key with every other (20,000 keys: seconds of a blocked event loop); duplicateKey does it in one pass.
      docs = YAML.parseAllDocuments(body, { uniqueKeys: false });
    } catch (e) {
      // The parser recurses: a stream nested thousands deep overflows the stack.
      throw invalid('(body)', e);
    }
    const list = Array.isArray(docs) ? docs : [docs];
    const out: unknown[] = [];
    for (const [i, d] of list.entries()) {
      const err = d.errors[0];
      if (err) throw invalid(`(body) document ${i + 1}`, err);
      const dup = duplicateKey(d);
      if (dup) throw new ValidationFailed([{ field: `(body) document ${i + 1}`, message: `invalid YAML: ${dup}` }]);
      let v: unknown;
      try {
        v = d.toJS({ maxAliasCount: 50 });
      } catch (e) {
        // Aliases that would expand past maxAliasCount (a "billion laughs" body) throw a ReferenceError here, not a parse error.
        throw invalid(`(body) document ${i + 1}`, e);
      }
      if (v !== null && v !== undefined) out.push(...(Array.isArray(v) ? v : [v]));
    }
    return out;
  }
  if (Array.isArray(body)) return body;
  if (body && typeof body === 'object') {
    const r = (body as { resources?: unknown }).resources;
    if (Array.isArray(r)) return r;
    if ('kind' in body) return [body];
  }
  throw new ValidationFailed([{ field: '(body)', message: 'must be a YAML stream, a JSON array of resources, or {"resources": [...]}' }]);
}

/** The first problem with a document's mapping keys (a key twice, or more keys than any resource has), in time linear in the keys. */
function duplicateKey(doc: YAML.Document): string | undefined {
  let problem: string | undefined;
  YAML.visit(doc, {
    Map(_, map) {
      if (map.items.length > MAX_KEYS) {
        problem = `a mapping has ${map.items.length} keys; at most ${MAX_KEYS}`;
        return YAML.visit.BREAK;
      }
      const seen = new Set<string>();
      for (const { key } of map.items) {
        const k = YAML.isScalar(key) ? `${typeof key.value}:${String(key.value)}` : `node:${String(key)}`;
        // `<<` is a merge key, which may repeat.
        if (k === 'string:<<') continue;
        if (seen.has(k)) {
          problem = `Map keys must be unique (${JSON.stringify(k.slice(k.indexOf(':') + 1)).slice(0, 80)})`;
          return YAML.visit.BREAK;
        }
        seen.add(k);
      }
      return undefined;
    },
  });
  return problem;
}
