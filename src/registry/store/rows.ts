import { type Kind, type Resource, type ResourceKey, scopeFields } from '../../model/resources.js';

/** The resources table's columns that make a Resource, in the order toResource reads them. */
export const COLUMNS = `"kind", "scope", "name", "labels", "spec", "status", "version", "created_at", "updated_at"`;

/** One row of the resources table as the driver returns it. */
export interface Row {
  kind: Kind;
  scope: string;
  name: string;
  labels: Record<string, string>;
  spec: Record<string, unknown>;
  status: Record<string, unknown>;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/** A resources row as the API shows it: scope fields, labels and spec keys sorted, ISO timestamps. */
export function toResource(r: Row): Resource {
  return {
    kind: r.kind,
    name: r.name,
    ...scopeFields(r.kind, r.scope),
    labels: sortKeys(r.labels ?? {}),
    spec: sortKeys(r.spec),
    version: r.version,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
    status: r.status ?? {},
  };
}

// jsonb keeps keys in its own order (by length); present them alphabetically instead.
export function sortKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(sortKeys) as T;
  if (v && typeof v === 'object') {
    // fromEntries defines own properties: a `__proto__` label stays a label, not a prototype.
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])])) as T;
  }
  return v;
}

// A resource read back from jsonb, with labels and spec keys in the same order toResource gives.
export const normalized = (r: Resource): Resource => ({ ...r, labels: sortKeys(r.labels ?? {}), spec: sortKeys(r.spec) });

/** A key as one string, for maps of keys. */
export const keyId = (k: ResourceKey) => `${k.kind}\u0000${k.scope}\u0000${k.name}`;

/**
 * Reads the resources of a list of keys in one statement: `keys` is SQL for a
 * jsonb array of {kind, scope, name} (a parameter or an escaped literal).
 */
export const selectByKeys = (keys: string) =>
  `SELECT ${COLUMNS.split(', ').map((c) => `r.${c}`).join(', ')} FROM "resources" r
     JOIN jsonb_to_recordset(${keys}) AS k("kind" text, "scope" text, "name" text) ON r."kind" = k."kind" AND r."scope" = k."scope" AND r."name" = k."name"`;
