import type { NodeGroup } from '../../translate/types.js';

/** The `node` field of a discovery request, as decoded. */
export interface XdsNode {
  id?: string;
  cluster?: string;
  user_agent_name?: string;
  user_agent_version?: string;
  metadata?: Record<string, unknown>;
  locality?: { region?: string; zone?: string; sub_zone?: string } | null;
}

/** Client kind: proxyless when the user agent is a gRPC library or metadata says so. */
export function groupOf(node: XdsNode): NodeGroup {
  const meta = node.metadata as { fields?: Record<string, { stringValue?: string; string_value?: string }> } | undefined;
  const declared = meta?.fields?.['switchyard.io/client']?.string_value ?? meta?.fields?.['switchyard.io/client']?.stringValue;
  const proxyless = declared ? declared === 'proxyless' : /^grpc/i.test(node.user_agent_name ?? '') && node.user_agent_name !== 'envoy';
  const l = node.locality ?? {};
  const locality = l.region || l.zone || l.sub_zone ? { locality: { region: l.region ?? '', zone: l.zone ?? '', subZone: l.sub_zone ?? '' } } : {};
  return proxyless ? { kind: 'proxyless', cluster: '', ...locality } : { kind: 'envoy', cluster: node.cluster || 'default', ...locality };
}
