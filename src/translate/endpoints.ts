import type { CheckedState, EffectiveHealth } from '../model/health.js';
import type { EndpointSpec, Resource } from '../model/resources.js';
import type { TranslationIssue } from './types.js';

/** Everything known about one service's endpoints, from the three places they come from. */
export interface EndpointSources {
  /** Endpoints stored in the registry. */
  durable: readonly Resource<EndpointSpec>[];
  /** Heartbeat (TTL) endpoints from coordination. */
  heartbeat: readonly Resource<EndpointSpec>[];
  /** What active health checks concluded, by endpoint name. */
  checked: ReadonlyMap<string, CheckedState>;
}

/** The result of merging: what proxies get, and the panic state when the guard holds. */
export interface MergedEndpoints {
  endpoints: Resource<EndpointSpec>[];
  panic?: { failing: number; total: number };
  issues: TranslationIssue[];
}

/**
 * One service's endpoints as sent to proxies. Pure: same sources, same result.
 *
 * - A durable endpoint wins a name clash with a heartbeat one.
 * - The administrative health (spec.health) wins when it is draining or
 *   unhealthy; otherwise the active-check result decides. Heartbeat endpoints
 *   that stop renewing are gone from `heartbeat` altogether, so either
 *   mechanism failing takes an endpoint out.
 * - Panic guard (like Envoy's healthy_panic_threshold): when more than
 *   `panicShare` (0..1) of the checked endpoints fail at once, failing checks
 *   are ignored for the service, because withdrawing most of a pool usually
 *   means the checker or its network is wrong, not every instance. Panic is
 *   reported as a warning on the Service.
 */
export function mergeEndpoints(service: string, src: EndpointSources, panicShare: number): MergedEndpoints {
  const durableNames = new Set(src.durable.map((e) => e.name));
  const eps = [...src.durable, ...src.heartbeat.filter((e) => !durableNames.has(e.name))];
  if (!src.checked.size) return { endpoints: eps, issues: [] };
  const underCheck = eps.filter((e) => src.checked.has(e.name));
  const failing = underCheck.filter((e) => src.checked.get(e.name) === 'unhealthy').length;
  const total = underCheck.length;
  const panic = total > 0 && failing / total > panicShare;
  const endpoints = eps.map((e) => {
    const h = effective((e.spec.health ?? 'unknown') as EffectiveHealth, src.checked.get(e.name), panic);
    return e.spec.health === h ? e : { ...e, spec: { ...e.spec, health: h } };
  });
  if (!panic) return { endpoints, issues: [] };
  return {
    endpoints,
    panic: { failing, total },
    issues: [
      {
        kind: 'Service',
        name: service,
        severity: 'warning',
        reason: 'Panic',
        message: `degraded: panic mode, ${failing} of ${total} endpoints fail their health checks and all are kept in rotation`,
      },
    ],
  };
}

function effective(admin: EffectiveHealth, checked: CheckedState | undefined, panic: boolean): EffectiveHealth {
  if (admin === 'draining' || admin === 'unhealthy') return admin;
  if (checked === 'unhealthy') return panic ? admin : 'unhealthy';
  if (checked === 'healthy') return 'healthy';
  return admin;
}
