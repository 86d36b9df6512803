import { type Change, type EndpointSpec, idOf, type Kind, type Resource } from '../model/resources.js';

const keyOf = idOf;

/**
 * The registry as of one store revision, kept in memory from the change log
 * so that consumers of the change feed never read back what was just written.
 * Plain data: the feed is its only writer.
 */
export class RegistryMirror {
  private readonly byKey = new Map<string, Resource>();
  /** The same resources by kind: readers of one kind (policies, rollouts) do not walk every endpoint. */
  private readonly byKind = new Map<Kind, Map<string, Resource>>();
  private readonly durable = new Map<string, Map<string, Resource<EndpointSpec>>>();
  /** The store revision this mirror reflects (-1 before the first load). */
  revision = -1;

  /** Replaces everything with a full read. */
  reset(revision: number, resources: Resource[]): void {
    this.byKey.clear();
    this.byKind.clear();
    this.durable.clear();
    for (const r of resources) this.put(r);
    this.revision = revision;
  }

  /** Applies one change-log entry (its object, or its removal). */
  apply(c: Change): void {
    if (c.op === 'delete' || !c.object) {
      const old = this.byKey.get(keyOf(c));
      if (old) this.drop(old);
    } else this.put(c.object);
    this.revision = c.revision;
  }

  get<S = Record<string, unknown>>(kind: Kind, name: string, service?: string): Resource<S> | undefined {
    return this.byKey.get(keyOf({ kind, name, service })) as Resource<S> | undefined;
  }

  /** A resource by its key (kind, scope, name), for any kind. */
  byId<S = Record<string, unknown>>(id: string): Resource<S> | undefined {
    return this.byKey.get(id) as Resource<S> | undefined;
  }

  /** Every resource, durable endpoints included. */
  resources(): Resource[] {
    return [...this.byKey.values()];
  }

  of<S = Record<string, unknown>>(kind: Kind): Resource<S>[] {
    const out: Resource<S>[] = [];
    for (const r of this.byKind.get(kind)?.values() ?? []) out.push(r as Resource<S>);
    return out;
  }

  /** The durable endpoints of a service. */
  endpoints(service: string): Resource<EndpointSpec>[] {
    return [...(this.durable.get(service)?.values() ?? [])];
  }

  /** Whether `key` (kind/service/name) exists. */
  has(kind: Kind, name: string, service?: string): boolean {
    return this.byKey.has(keyOf({ kind, name, service }));
  }

  private put(r: Resource): void {
    const key = keyOf(r);
    this.byKey.set(key, r);
    let kind = this.byKind.get(r.kind);
    if (!kind) this.byKind.set(r.kind, (kind = new Map()));
    kind.set(key, r);
    if (r.kind === 'Endpoint') {
      let m = this.durable.get(r.service!);
      if (!m) this.durable.set(r.service!, (m = new Map()));
      m.set(r.name, r as unknown as Resource<EndpointSpec>);
    }
  }

  private drop(r: Resource): void {
    const key = keyOf(r);
    this.byKey.delete(key);
    this.byKind.get(r.kind)?.delete(key);
    if (r.kind === 'Endpoint') {
      const m = this.durable.get(r.service!);
      m?.delete(r.name);
      if (m && !m.size) this.durable.delete(r.service!);
    }
  }
}

export { keyOf as mirrorKey };
