/**
 * The simulated catalogue: what is seeded through POST /api/v1/apply, and the
 * changes of the change script (endpoint health, route weights, new services),
 * each with the xDS types it is expected to change for each kind of proxy.
 */
import type { ChangeKind } from './options.js';
import type { Expectation, TypeKey } from './messages.js';

/** A Listener may serve at most this many routes (ListenerDto), so big catalogues get several per group. */
export const ROUTES_PER_LISTENER = 256;
/** Resources per apply request: a few hundred keeps each transaction and body small. */
const BATCH = 300;

export const serviceName = (i: number) => `svc-${i}`;
export const endpointName = (i: number, j: number) => `svc-${i}-e${j}`;
export const groupName = (g: number) => `g${g}`;
export const listenerName = (g: number, chunk: number) => `g${g}-l${chunk}`;

type Resource = Record<string, unknown>;

/** A change ready to be made: arm the fleet with `expect`, then `write()`. */
export interface PlannedChange {
  index: number;
  kind: ChangeKind;
  /** What is changed, for the report (e.g. "svc-3-e0 unhealthy"). */
  target: string;
  expect: Expectation;
  write(): Promise<void>;
}

/** An HTTP error from the control plane's REST API. */
export class ApiError extends Error {}

async function call(api: string, method: string, path: string, body: unknown, contentType = 'application/json'): Promise<void> {
  const res = await fetch(api + path, {
    method,
    headers: { 'content-type': contentType, 'x-switchyard-actor': 'simulator' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  if (res.status >= 300) throw new ApiError(`${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`);
}

/**
 * Generates the catalogue and the changes. Keeps the state changes need
 * (endpoint health, route weights, how many services exist) so a change always
 * differs from what is there.
 */
export class Catalogue {
  private services: number;
  private nextAddress = 0;
  private readonly unhealthy = new Set<string>();
  private readonly evenSplit = new Set<number>();

  constructor(
    private readonly api: string,
    readonly opts: { services: number; endpoints: number; groups: number },
  ) {
    this.services = opts.services;
  }

  /** Services now in the catalogue, including those added by changes. */
  get serviceCount(): number {
    return this.services;
  }

  /** Listener resources per group for `routes` routes. */
  static listenersPerGroup(routes: number): number {
    return Math.max(1, Math.ceil(routes / ROUTES_PER_LISTENER));
  }

  private service(i: number): Resource[] {
    const name = serviceName(i);
    const out: Resource[] = [
      {
        kind: 'Service',
        name,
        spec: {
          protocol: 'http',
          port: 8080,
          subsets: [
            { name: 'v1', labels: { version: 'v1' } },
            { name: 'v2', labels: { version: 'v2' } },
          ],
        },
      },
    ];
    for (let j = 0; j < this.opts.endpoints; j++) {
      const a = this.nextAddress++;
      out.push({
        kind: 'Endpoint',
        name: endpointName(i, j),
        service: name,
        spec: {
          address: `10.${(a >> 16) & 255}.${(a >> 8) & 255}.${a & 255}`,
          port: 8080,
          locality: { region: 'r1', zone: `z${j % 3}` },
          // Even endpoints are v1 and odd v2, so both subsets have members from two endpoints up.
          labels: { version: j % 2 === 0 ? 'v1' : 'v2' },
          // Explicitly healthy, so a health flip and the flip back return to the same content (and EDS version).
          health: 'healthy',
        },
      });
    }
    return out;
  }

  private route(i: number): Resource {
    const even = this.evenSplit.has(i);
    const name = serviceName(i);
    return {
      kind: 'Route',
      name,
      spec: {
        hosts: [name],
        rules: [
          {
            match: { pathPrefix: '/' },
            backends: [
              { service: name, subset: 'v1', weight: even ? 50 : 90 },
              { service: name, subset: 'v2', weight: even ? 50 : 10 },
            ],
          },
        ],
      },
    };
  }

  /** The listeners of every group for route chunk `chunk` (routes chunk*256 ...). */
  private listeners(chunk: number): Resource[] {
    const routes: string[] = [];
    for (let i = chunk * ROUTES_PER_LISTENER; i < Math.min(this.services, (chunk + 1) * ROUTES_PER_LISTENER); i++) routes.push(serviceName(i));
    return Array.from({ length: this.opts.groups }, (_, g) => ({
      kind: 'Listener',
      name: listenerName(g, chunk),
      spec: { group: groupName(g), address: '0.0.0.0', port: 10000 + chunk, protocol: 'http', routes },
    }));
  }

  private apply(resources: Resource[]): Promise<void> {
    return call(this.api, 'POST', '/api/v1/apply', resources);
  }

  /** The whole seeded catalogue as one list, in seeding order (for in-process benchmarks of translation). */
  resources(): Resource[] {
    const chunks = Catalogue.listenersPerGroup(this.opts.services);
    const out: Resource[] = [];
    for (let i = 0; i < this.opts.services; i++) out.push(...this.service(i));
    for (let i = 0; i < this.opts.services; i++) out.push(this.route(i));
    for (let c = 0; c < chunks; c++) out.push(...this.listeners(c));
    return out;
  }

  /** Seeds services with endpoints, then routes, then listeners, in batches. */
  async seed(onProgress?: (done: number, total: number) => void): Promise<{ resources: number; batches: number; listeners: number }> {
    const { services, endpoints } = this.opts;
    const chunks = Catalogue.listenersPerGroup(services);
    const total = services * (endpoints + 2) + chunks * this.opts.groups;
    let done = 0;
    let batches = 0;
    let batch: Resource[] = [];
    const flush = async () => {
      if (!batch.length) return;
      await this.apply(batch);
      done += batch.length;
      batches++;
      batch = [];
      onProgress?.(done, total);
    };
    // A service travels with its endpoints: an endpoint's service must exist by the end of its transaction.
    for (let i = 0; i < services; i++) {
      batch.push(...this.service(i));
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    for (let i = 0; i < services; i++) {
      batch.push(this.route(i));
      if (batch.length >= BATCH) await flush();
    }
    await flush();
    for (let c = 0; c < chunks; c++) batch.push(...this.listeners(c));
    await flush();
    return { resources: done, batches, listeners: chunks * this.opts.groups };
  }

  /**
   * Change number `index` of kind `kind`. Health and weight changes walk
   * through the seeded services in order; service changes append new ones.
   * Envoy-like proxies serve every route, so they see every change; a grpc-like
   * proxy watches one host and only sees changes of its own service.
   */
  plan(index: number, kind: ChangeKind): PlannedChange {
    const svc = index % this.opts.services;
    if (kind === 'health') {
      const ep = endpointName(svc, 0);
      const health = this.unhealthy.has(ep) ? 'healthy' : 'unhealthy';
      return {
        index,
        kind,
        target: `${ep} ${health}`,
        expect: { envoy: ['eds'], grpcService: svc, grpc: ['eds'] },
        write: async () => {
          await call(this.api, 'PATCH', `/api/v1/services/${serviceName(svc)}/endpoints/${ep}`, { spec: { health } }, 'application/merge-patch+json');
          if (health === 'unhealthy') this.unhealthy.add(ep);
          else this.unhealthy.delete(ep);
        },
      };
    }
    if (kind === 'weight') {
      const even = !this.evenSplit.has(svc);
      return {
        index,
        kind,
        target: `${serviceName(svc)} ${even ? '50/50' : '90/10'}`,
        expect: { envoy: ['rds'], grpcService: svc, grpc: ['rds'] },
        write: async () => {
          if (even) this.evenSplit.add(svc);
          else this.evenSplit.delete(svc);
          try {
            await call(this.api, 'PUT', `/api/v1/routes/${serviceName(svc)}`, this.route(svc));
          } catch (e) {
            if (even) this.evenSplit.delete(svc);
            else this.evenSplit.add(svc);
            throw e;
          }
        },
      };
    }
    // A new service and its route, added to every group's listener for its chunk:
    // Envoy's listener refers to its route configuration by name, so LDS only
    // changes when the route starts a new chunk (a new Listener).
    const i = this.services;
    const chunk = Math.floor(i / ROUTES_PER_LISTENER);
    const newListener = i % ROUTES_PER_LISTENER === 0;
    const envoy: TypeKey[] = newListener ? ['cds', 'eds', 'lds', 'rds'] : ['cds', 'eds', 'rds'];
    return {
      index,
      kind,
      target: `${serviceName(i)} with ${this.opts.endpoints} endpoints${newListener ? ' (new listener)' : ''}`,
      // grpc-like proxies subscribe to their own host's listener by name: a new host does not reach them.
      expect: { envoy, grpc: [] },
      write: async () => {
        const resources = [...this.service(i), this.route(i)];
        this.services++;
        resources.push(...this.listeners(chunk));
        try {
          await this.apply(resources);
        } catch (e) {
          this.services--;
          throw e;
        }
      },
    };
  }
}
