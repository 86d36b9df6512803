import { Injectable } from '@nestjs/common';
import { Conflict, NotFound } from '../common/errors.js';
import { HealthBoard } from '../coordination/health-board.js';
import { EphemeralEndpoints } from './ephemeral-endpoints.js';
import type { Resource } from '../model/resources.js';
import { type DeleteResult, type ListQuery, RegistryService, type ResourceList, type WriteContext } from './registry.service.js';
import { matchesSelector, parseLabelSelector } from './label-selector.js';

const hasTtl = (body: unknown) => !!(body as { spec?: { ttlSeconds?: unknown } } | null)?.spec?.ttlSeconds;

/**
 * One view of a service's endpoints: durable ones (PostgreSQL, registry rules)
 * and heartbeat ones (coordination, with a TTL). A body with spec.ttlSeconds registers a heartbeat endpoint.
 */
@Injectable()
export class EndpointsService {
  constructor(
    private readonly registry: RegistryService,
    private readonly ephemeral: EphemeralEndpoints,
    private readonly board: HealthBoard,
  ) {}

  create(service: string, body: unknown, ctx: WriteContext): Promise<Resource> {
    return hasTtl(body) ? this.ephemeral.register(service, body) : this.registry.create('Endpoint', body, { ...ctx, service });
  }

  /** A page of a service's endpoints, each with what active health checks concluded in `status.check`. */
  async list(service: string, q: ListQuery): Promise<ResourceList> {
    const durable = await this.registry.list('Endpoint', q, service);
    // Heartbeat endpoints come on the last page.
    if (q.pageToken || durable.nextPageToken) return { ...durable, items: durable.items.map((r) => this.withCheck(service, r)) };
    const selector = parseLabelSelector(q.labelSelector);
    const extra = this.ephemeral
      .of(service)
      .filter((r) => matchesSelector({ ...r.labels, ...((r.spec as { labels?: Record<string, string> }).labels ?? {}) }, selector));
    return { items: [...durable.items, ...(extra as unknown as Resource[])].sort((a, b) => (a.name < b.name ? -1 : 1)).map((r) => this.withCheck(service, r)) };
  }

  /** The check state lives in coordination (the health board), not in the row, so it is joined here. */
  private withCheck(service: string, r: Resource): Resource {
    const check = this.board.get(service, r.name);
    return check ? { ...r, status: { ...r.status, check } } : r;
  }

  /** One endpoint, with what active health checks last concluded in `status.check`. */
  async get(service: string, name: string): Promise<Resource> {
    let r: Resource;
    try {
      r = await this.registry.get({ kind: 'Endpoint', scope: service, name });
    } catch (e) {
      const eph = this.ephemeral.get(service, name);
      if (!(e instanceof NotFound && eph)) throw e;
      r = eph as unknown as Resource;
    }
    return this.withCheck(service, r);
  }

  replace(service: string, name: string, body: unknown, ctx: WriteContext): Promise<Resource> {
    this.refuseEphemeral(service, name);
    return this.registry.replace({ kind: 'Endpoint', scope: service, name }, body, ctx);
  }

  patch(service: string, name: string, body: unknown, ctx: WriteContext): Promise<Resource> {
    this.refuseEphemeral(service, name);
    return this.registry.patch({ kind: 'Endpoint', scope: service, name }, body, ctx);
  }

  async remove(service: string, name: string, ctx: WriteContext): Promise<DeleteResult> {
    const eph = this.ephemeral.get(service, name);
    if (eph && (await this.ephemeral.remove(service, name))) return { deleted: [{ kind: 'Endpoint', name, service }], updated: [] };
    return this.registry.remove({ kind: 'Endpoint', scope: service, name }, ctx);
  }

  heartbeat(service: string, name: string, body: unknown) {
    return this.ephemeral.heartbeat(service, name, body);
  }

  private refuseEphemeral(service: string, name: string): void {
    if (this.ephemeral.get(service, name))
      throw new Conflict(`Endpoint ${service}/${name} is a heartbeat endpoint: register it again to change it, or delete it`);
  }
}
