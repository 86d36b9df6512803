import type { NodeGroup } from '../../translate/types.js';
import type { EncodedResource } from '../cache/cache.js';
import type { TypeUrl } from '../../translate/envoy-types.js';
import { groupOf, type XdsNode } from './node.js';

/** Per-type protocol state of one stream, as shown by GET /api/v1/proxies. */
export interface TypeStatus {
  lastSentVersion?: string;
  lastSentAt?: string;
  lastAckedVersion?: string;
  lastAckedAt?: string;
  lastNack?: { version?: string; nonce: string; message: string; at: string };
  pending?: boolean;
}

/** One connected xDS stream (a proxy or a gRPC client). */
export interface ProxyInfo {
  id: string;
  streamId: number;
  group: NodeGroup;
  clientKind: NodeGroup['kind'];
  userAgent: string;
  protocol: 'sotw' | 'delta';
  /** Who opened the stream (XDS_AUTH other than none): a SPIFFE id or CN, a token entry's id, or `anonymous`. */
  identity?: string;
  connectedAt: string;
  types: Partial<Record<TypeUrl, TypeStatus>>;
  /** Resources last sent, per type (shared with the cache, not copied), for config dumps. */
  sent: Partial<Record<TypeUrl, EncodedResource[]>>;
}

/** Registry of live xDS streams, shared by the SotW and Delta servers. */
export class ProxyRegistry {
  private readonly streams = new Map<number, ProxyInfo>();
  private nextId = 1;

  /** Registers the stream whose first request carried `node`. */
  connect(node: XdsNode, protocol: ProxyInfo['protocol']): ProxyInfo {
    const group = groupOf(node);
    return this.add({
      id: node.id || `anonymous-${Date.now()}`,
      group,
      clientKind: group.kind,
      userAgent: `${node.user_agent_name ?? ''} ${node.user_agent_version ?? ''}`.trim(),
      protocol,
      connectedAt: new Date().toISOString(),
      types: {},
      sent: {},
    });
  }

  add(info: Omit<ProxyInfo, 'streamId'>): ProxyInfo {
    const p = { ...info, streamId: this.nextId++ };
    this.streams.set(p.streamId, p);
    return p;
  }

  remove(p: ProxyInfo): void {
    this.streams.delete(p.streamId);
  }

  list(): ProxyInfo[] {
    return [...this.streams.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.streamId - b.streamId));
  }

  get size(): number {
    return this.streams.size;
  }
}
