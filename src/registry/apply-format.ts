import YAML from 'yaml';
import { ValidationFailed } from '../common/errors.js';

/**
 * Reads an apply body: a YAML stream (documents separated by ---), a JSON
 * array, `{resources: [...]}`, or a single resource object.
 */
export function parseApplyBody(body: unknown): unknown[] {
  if (typeof body === 'string') {
    const docs = YAML.parseAllDocuments(body, { uniqueKeys: true });
    const list = Array.isArray(docs) ? docs : [docs];
    const out: unknown[] = [];
    for (const [i, d] of list.entries()) {
      const err = d.errors[0];
      if (err) throw new ValidationFailed([{ field: `(body) document ${i + 1}`, message: `invalid YAML: ${err.message.split('\n')[0]}` }]);
      const v = d.toJS({ maxAliasCount: 50 });
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
