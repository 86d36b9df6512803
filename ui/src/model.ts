import { api, listAll } from './api.js';

/** A registry resource as the REST API returns it. */
export interface Res<S = any> {
  kind: string;
  name: string;
  service?: string;
  labels: Record<string, string>;
  spec: S;
  version: number;
  updatedAt: string;
  status: Record<string, any>;
}

/** One xDS type of one proxy, from /api/v1/proxies. */
export interface TypeStatus {
  lastSentVersion?: string;
  lastSentAt?: string;
  lastAckedVersion?: string;
  lastAckedAt?: string;
  lastNack?: { version?: string; nonce: string; message: string; at: string };
}

/** A connected proxy, from /api/v1/proxies. */
export interface Proxy {
  id: string;
  streamId: number;
  group: string;
  clientKind: string;
  userAgent?: string;
  protocol: string;
  connectedAt: string;
  types: Record<string, TypeStatus>;
}

/** Where one type of one proxy stands: the proxy's last answer decides. */
export function typeState(t: TypeStatus): 'acked' | 'nacked' | 'sent' {
  if (t.lastNack && (!t.lastAckedAt || t.lastNack.at >= t.lastAckedAt)) return 'nacked';
  if (t.lastSentVersion && t.lastSentVersion !== t.lastAckedVersion) return 'sent';
  return 'acked';
}

/** The worst state over a proxy's types. */
export function proxyState(p: Proxy): 'acked' | 'nacked' | 'sent' {
  const states = Object.values(p.types).map(typeState);
  return states.includes('nacked') ? 'nacked' : states.includes('sent') ? 'sent' : 'acked';
}

/**
 * An endpoint's health as proxies get it: its own `spec.health` wins when it
 * says draining or unhealthy, otherwise the active check decides
 * (`status.check`), otherwise what the API or a heartbeat set.
 */
export function healthOf(e: Res): string {
  const own = e.status?.health?.state ?? e.spec?.health;
  if (own === 'draining' || own === 'unhealthy') return own;
  return e.status?.check?.state ?? own ?? 'unknown';
}

/** Rollout phases that still move. */
export const RUNNING = ['Pending', 'Progressing', 'Paused', 'Promoting', 'RollingBack'];

/** Services with their endpoints (one list call per service). */
export async function servicesWithEndpoints(): Promise<{ service: Res; endpoints: Res[] }[]> {
  const services = await listAll<Res>('/api/v1/services');
  return Promise.all(services.map(async (service) => ({ service, endpoints: await listAll<Res>(`/api/v1/services/${service.name}/endpoints`) })));
}

/** The connected proxies, with which replica answered. */
export const proxies = () => api<{ replica: string; leader?: { id: string }; items: Proxy[] }>('GET', '/api/v1/proxies');
