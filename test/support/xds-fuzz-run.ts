import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TYPE } from '../../src/translate/envoy-types.js';
import { decodeResource } from '../../src/xds/cache/envoy-protos.js';
import { decodeDeltaResponse, decodeResponse, encodeDeltaRequest, encodeRequest } from '../../tools/xds-wire.js';
import { AdsTestClient, envoyNode } from './ads-client.js';
import { encodeSpec, hugeNames, type NonceSpec, type RequestSpec, type Step, type XdsCase, type XdsPath } from './xds-fuzz.js';

/*
 * Running the adversarial streams of test/support/xds-fuzz.ts against a live
 * xDS server, next to well-behaved reference clients that must not notice.
 */

type Sotw = ReturnType<typeof decodeResponse>;
type Delta = ReturnType<typeof decodeDeltaResponse>;
type AnyResponse = Sotw | Delta;

const KNOWN = new Set<string>([TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route]);
const SERVICE: Record<Exclude<XdsPath, 'bogus'>, [string, string, string]> = {
  ads: ['envoy.service.discovery.v3.AggregatedDiscoveryService', 'StreamAggregatedResources', 'DeltaAggregatedResources'],
  cds: ['envoy.service.cluster.v3.ClusterDiscoveryService', 'StreamClusters', 'DeltaClusters'],
  eds: ['envoy.service.endpoint.v3.EndpointDiscoveryService', 'StreamEndpoints', 'DeltaEndpoints'],
  lds: ['envoy.service.listener.v3.ListenerDiscoveryService', 'StreamListeners', 'DeltaListeners'],
  rds: ['envoy.service.route.v3.RouteDiscoveryService', 'StreamRoutes', 'DeltaRoutes'],
};
const PATH_TYPE: Partial<Record<XdsPath, string>> = { cds: TYPE.cluster, eds: TYPE.endpoint, lds: TYPE.listener, rds: TYPE.route };

function methodPath(c: XdsCase): string {
  if (c.path === 'bogus') return '/envoy.service.discovery.v3.AggregatedDiscoveryService/NoSuchMethod';
  const [svc, sotw, delta] = SERVICE[c.path];
  return `/${svc}/${c.protocol === 'delta' ? delta : sotw}`;
}

/** A garbage collection, exposed at runtime when node was not started with --expose-gc. */
export function collectGarbage(): void {
  const g = (globalThis as { gc?: () => void }).gc ?? (setFlagsFromString('--expose-gc'), runInNewContext('gc') as () => void);
  g();
}

/** The weights of the echo/v1 load assignment's endpoints (what the changes move). */
function weightsOf(cla: Record<string, any>): number[] {
  return (cla.endpoints ?? []).flatMap((l: any) => (l.lb_endpoints ?? []).map((e: any) => e.load_balancing_weight?.value ?? 1));
}

/**
 * A well-behaved client (SotW or Delta) on CDS, EDS (echo/v1, echo/v2) and
 * LDS: it decodes every resource, ACKs what decodes and NACKs what does not,
 * and reports each echo/v1 weight it receives.
 */
export class ReferenceClient {
  readonly client: AdsTestClient<AnyResponse>;
  nacks = 0;
  responses = 0;
  /** Nonces it received: foreign nonces for the adversarial streams. */
  readonly nonces: string[] = [];
  private readonly seen = new Set<number>();
  private waiters: { weight: number; resolve: (at: number) => void }[] = [];
  private stopped = false;

  constructor(
    port: number,
    readonly delta: boolean,
    id: string,
  ) {
    this.client = new AdsTestClient<AnyResponse>(port, delta);
    const eds = ['echo/v1', 'echo/v2'];
    if (delta) {
      this.client.send({ node: envoyNode(id), type_url: TYPE.cluster });
      this.client.send({ type_url: TYPE.endpoint, resource_names_subscribe: eds });
      this.client.send({ type_url: TYPE.listener });
    } else {
      this.client.send({ node: envoyNode(id), type_url: TYPE.cluster });
      this.client.send({ type_url: TYPE.endpoint, resource_names: eds });
      this.client.send({ type_url: TYPE.listener });
    }
    void this.loop(eds);
  }

  private async loop(eds: string[]): Promise<void> {
    while (!this.stopped) {
      const r = await this.client.next(1000).catch(() => undefined);
      if (!r) {
        if (this.client.status) return;
        continue;
      }
      this.responses++;
      this.nonces.push(r.nonce);
      if (this.nonces.length > 1000) this.nonces.shift();
      let error: string | undefined;
      try {
        for (const res of this.resourcesOf(r)) {
          if (res.type_url !== r.type_url) throw new Error(`a ${res.type_url} in a ${r.type_url} response`);
          const d = decodeResource(res.type_url, res.value);
          if (r.type_url === TYPE.endpoint && d.cluster_name === 'echo/v1') this.observe(weightsOf(d));
        }
      } catch (e) {
        error = (e as Error).message;
      }
      if (error) this.nacks++;
      const detail = error ? { error_detail: { code: 3, message: error } } : {};
      if (this.delta) this.client.send({ type_url: r.type_url, response_nonce: r.nonce, ...detail });
      else this.client.send({ type_url: r.type_url, version_info: error ? '' : (r as Sotw).version_info, response_nonce: r.nonce, resource_names: r.type_url === TYPE.endpoint ? eds : [], ...detail });
    }
  }

  private resourcesOf(r: AnyResponse): { type_url: string; value: Uint8Array }[] {
    if (!this.delta) return (r as Sotw).resources;
    return (r as Delta).resources.map((x) => x.resource);
  }

  private observe(weights: number[]): void {
    const at = performance.now();
    for (const w of weights) this.seen.add(w);
    this.waiters = this.waiters.filter((x) => {
      if (!this.seen.has(x.weight)) return true;
      x.resolve(at);
      return false;
    });
  }

  /** Forgets the weights seen so far: the next change is waited for by a weight used before. */
  expectNew(): void {
    this.seen.clear();
  }

  /** When an echo/v1 endpoint with `weight` arrived (performance.now()), or undefined after `ms`. */
  received(weight: number, ms: number): Promise<number | undefined> {
    if (this.seen.has(weight)) return Promise.resolve(performance.now());
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x.resolve !== done);
        resolve(undefined);
      }, ms);
      const done = (at: number) => {
        clearTimeout(t);
        resolve(at);
      };
      this.waiters.push({ weight, resolve: done });
    });
  }

  /** The stream's status if it ended (it must not). */
  get status() {
    return this.client.status;
  }

  close(): void {
    this.stopped = true;
    this.client.close();
  }
}

/** What one adversarial stream did and got. */
export interface CaseOutcome {
  messages: number;
  floods: number;
  churnOps: number;
  responses: number;
  /** The stream's final status code and details. */
  code: number;
  details: string;
  /** Problems found (an invalid response, a status that is not clean, a stream the server did not end). */
  problems: string[];
}

/** Statuses an adversarial stream may end with: served to the end, refused input, refused size, no such method. */
export const CLEAN_CODES = new Set([0, 3, 8, 12]);

/** Runs one adversarial stream to its end. `foreign` supplies nonces of other streams. */
export async function runCase(port: number, c: XdsCase, foreign: () => string[]): Promise<CaseOutcome> {
  const out: CaseOutcome = { messages: 0, floods: 0, churnOps: 0, responses: 0, code: -1, details: '', problems: [] };
  const client = new AdsTestClient<AnyResponse>(port, c.protocol === 'delta', methodPath(c));
  const got: AnyResponse[] = [];
  const take = () => got.push(...client.drain());
  const last = () => (take(), got.at(-1));
  const nonce = (n: NonceSpec): string => {
    if (n.kind === 'garbage') return n.value;
    if (n.kind === 'foreign') {
      const f = foreign();
      return f.length ? f[n.index % f.length] : '';
    }
    if (n.kind === 'last') return last()?.nonce ?? '';
    if (n.kind === 'stale') return (take(), got[0]?.nonce ?? '');
    return '';
  };
  const write = (b: Buffer) => {
    client.sendRaw(b);
    out.messages++;
  };
  const req = (r: RequestSpec) => write(encodeSpec(c.protocol, r, nonce));
  if (c.paused) client.pause();
  try {
    for (const s of c.steps) {
      if (client.status) break; // the server ended it: nothing more to say
      await step(s);
    }
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    if (c.paused) client.resume();
  }
  client.end();
  const status = await client.closed(10_000).catch(() => undefined);
  take();
  client.close();
  if (!status) out.problems.push('the server did not end the stream within 10 s of the client half-closing');
  else {
    out.code = status.code;
    out.details = status.details;
    if (!CLEAN_CODES.has(status.code)) out.problems.push(`status ${status.code} (${status.details})`);
  }
  out.responses = got.length;
  const only = PATH_TYPE[c.path];
  for (const r of got) {
    if (!KNOWN.has(r.type_url)) out.problems.push(`a response of unknown type ${JSON.stringify(r.type_url)}`);
    if (only && r.type_url !== only) out.problems.push(`a ${r.type_url} response on the ${c.path} service`);
    if (!r.nonce) out.problems.push('a response without a nonce');
    const resources = c.protocol === 'delta' ? (r as Delta).resources.map((x) => x.resource) : (r as Sotw).resources;
    for (const x of resources) {
      try {
        decodeResource(x.type_url, x.value);
      } catch (e) {
        out.problems.push(`a resource that does not decode: ${(e as Error).message}`);
      }
    }
  }
  return out;

  async function step(s: Step): Promise<void> {
    if (s.t === 'req') return req(s.req);
    if (s.t === 'raw') return write(Buffer.from(s.hex, 'hex'));
    if (s.t === 'answer') {
      if (!c.paused && !got.length) {
        const r = await client.next(s.waitMs || 1).catch(() => undefined);
        if (r) got.push(r);
      }
      const l = last();
      if (!l) return;
      const error = s.nack ? { error_detail: { code: 3, message: 'fuzz: rejected' } } : {};
      if (c.protocol === 'delta') return write(encodeDeltaRequest({ type_url: l.type_url, response_nonce: l.nonce, ...error } as never));
      const version = s.version === 'same' ? (l as Sotw).version_info : s.version === 'wrong' ? 'not-a-version' : '';
      return write(encodeRequest({ type_url: l.type_url, version_info: version, response_nonce: l.nonce, ...error } as never));
    }
    if (s.t === 'huge') {
      const names = hugeNames(s.count, s.len);
      const r: RequestSpec = c.protocol === 'delta' ? { type_url: s.type_url, resource_names_subscribe: names, nonce: { kind: 'none' } } : { type_url: s.type_url, resource_names: names, nonce: { kind: 'none' } };
      return req(r);
    }
    if (s.t === 'flood') {
      out.floods++;
      // Written back to back, never waiting for the server: the versions differ so no two are the same request.
      for (let i = 0; i < s.count; i++) req({ ...s.req, ...(c.protocol === 'sotw' ? { version_info: `${s.req.version_info ?? ''}${i}` } : {}) });
      return;
    }
    if (s.t === 'churn') {
      for (let k = 0; k < s.ops; k++) {
        const from = (Math.floor(k / 2) * s.batch) % s.distinct;
        const names = Array.from({ length: Math.min(s.batch, s.distinct) }, (_, j) => `churn-${(from + j) % s.distinct}`);
        const sub = k % 2 === 0;
        write(encodeDeltaRequest({ type_url: s.type_url, response_nonce: sub ? '' : nonce({ kind: 'last' }), [sub ? 'resource_names_subscribe' : 'resource_names_unsubscribe']: names } as never));
        out.churnOps++;
      }
    }
  }
}

/** Percentile of sorted `xs` (nearest rank). */
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
