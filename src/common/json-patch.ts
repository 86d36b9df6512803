/**
 * A small JSON Patch (RFC 6902) generator, and the matching applier (used to
 * check generated patches). Only add, remove and replace are produced: objects
 * are compared key by key, arrays index by index (the common prefix in place,
 * then removals from the end or additions at the end), so a patch is correct
 * though not always the shortest.
 */

/** One RFC 6902 operation of the kinds the generator produces. */
export type JsonPatchOp = { op: 'add' | 'replace'; path: string; value: unknown } | { op: 'remove'; path: string };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

// RFC 6901: "~" is written "~0" and "/" is written "~1" in a reference token.
const token = (k: string | number) => String(k).replace(/~/g, '~0').replace(/\//g, '~1');

/** The operations that turn `a` into `b`. */
export function jsonPatch(a: unknown, b: unknown, path = ''): JsonPatchOp[] {
  if (isObject(a) && isObject(b)) {
    const out: JsonPatchOp[] = [];
    for (const k of Object.keys(a)) if (!(k in b)) out.push({ op: 'remove', path: `${path}/${token(k)}` });
    for (const k of Object.keys(b)) {
      if (!(k in a)) out.push({ op: 'add', path: `${path}/${token(k)}`, value: b[k] });
      else out.push(...jsonPatch(a[k], b[k], `${path}/${token(k)}`));
    }
    return out;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const out: JsonPatchOp[] = [];
    const common = Math.min(a.length, b.length);
    for (let i = 0; i < common; i++) out.push(...jsonPatch(a[i], b[i], `${path}/${i}`));
    // Remove from the end first, so earlier indexes stay valid while the patch applies.
    for (let i = a.length - 1; i >= common; i--) out.push({ op: 'remove', path: `${path}/${i}` });
    for (let i = common; i < b.length; i++) out.push({ op: 'add', path: `${path}/-`, value: b[i] });
    return out;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ op: 'replace', path, value: b }];
}

/** Applies add, remove and replace operations to a copy of `doc`. Throws on a path that does not resolve. */
export function applyJsonPatch<T>(doc: T, ops: JsonPatchOp[]): T {
  let root: unknown = structuredClone(doc);
  for (const o of ops) {
    if (o.path === '') {
      if (o.op === 'remove') throw new Error('cannot remove the document root');
      root = structuredClone(o.value);
      continue;
    }
    const parts = o.path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    let parent: any = root;
    for (const p of parts) {
      parent = parent?.[Array.isArray(parent) ? Number(p) : p];
      if (parent === undefined || parent === null || typeof parent !== 'object') throw new Error(`${o.path}: no such parent`);
    }
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (o.op === 'add') parent.splice(i, 0, structuredClone(o.value));
      else if (o.op === 'remove') parent.splice(i, 1);
      else parent[i] = structuredClone(o.value);
    } else if (o.op === 'remove') {
      if (!(last in parent)) throw new Error(`${o.path}: nothing to remove`);
      delete parent[last];
    } else {
      parent[last] = structuredClone(o.value);
    }
  }
  return root as T;
}
