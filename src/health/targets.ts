import type { EndpointSpec, PolicySpec, Resource, ServiceSpec } from '../model/resources.js';
import { controlPlaneCheck } from '../policies/health-check/health-check.plugin.js';
import type { HealthCheckPolicyDto } from '../policies/health-check/health-check.schema.js';

/** One endpoint the control plane should probe, with its service's check settings. */
export interface HealthTarget {
  service: string;
  endpoint: string;
  address: string;
  port: number;
  check: HealthCheckPolicyDto;
}

/** What the target list is computed from (the change feed's mirror and heartbeat endpoints). */
export interface TargetSource {
  service(name: string): Resource<ServiceSpec> | undefined;
  policy(name: string): Resource<PolicySpec> | undefined;
  /** Durable endpoints first, then heartbeat ones (a durable one wins a name clash). */
  endpoints(service: string): { durable: Resource<EndpointSpec>[]; heartbeat: Resource<EndpointSpec>[] };
}

/** The endpoints of one service that the control plane probes: none unless its healthCheck policy is run by the control plane. */
export function serviceTargets(name: string, src: TargetSource): HealthTarget[] {
  const svc = src.service(name);
  const check = svc && controlPlaneCheck(svc.spec.policies, (p) => src.policy(p));
  if (!check) return [];
  const { durable, heartbeat } = src.endpoints(name);
  const names = new Set(durable.map((e) => e.name));
  return [...durable, ...heartbeat.filter((e) => !names.has(e.name))].map((e) => ({ service: name, endpoint: e.name, address: e.spec.address, port: e.spec.port, check }));
}
