import YAML from 'yaml';
import { ValidationFailed } from '../common/errors.js';
import { MAX_KEYS } from '../common/validate.js';
import { yamlKeyProblem } from '../common/yaml-keys.js';

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
      const dup = yamlKeyProblem(d, MAX_KEYS);
      if (dup) throw new ValidationFailed([{ field: `(body) document ${i + 1}`, message: `invalid YAML: ${dup.message}` }]);
      let v: unknown;
      try {
        v = d.toJS({ maxAliasCount: 50 });
      } catch (e) {
        // Aliases that would expand past maxAliasCount (a "billion laughs" body) throw a ReferenceError here, not a parse error.
        throw invalid(`(body) document ${i + 1}`, e);
      }
      // A loop, not push(...v): spreading a list of a few hundred thousand items overflows the stack (a 500).
      if (v !== null && v !== undefined) for (const item of Array.isArray(v) ? v : [v]) out.push(item);
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
