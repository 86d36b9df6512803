import { Injectable } from '@nestjs/common';
import { NotFound } from '../common/errors.js';
import { Replica } from '../coordination/coordination.module.js';
import { groupKey } from '../translate/types.js';
import { SnapshotCache } from './cache/cache.js';
import { XdsPublisher } from './publisher.js';
import { PUSH_ORDER } from '../translate/envoy-types.js';
import { ProxyRegistry } from './server/proxies.js';
import { shortType } from './xds-metrics.js';

/** Read side of the xDS server for the REST API. */
@Injectable()
export class ProxiesService {
  constructor(
    private readonly proxies: ProxyRegistry,
    private readonly publisher: XdsPublisher,
    private readonly replica: Replica,
    private readonly cache: SnapshotCache,
  ) {}

  list() {
    return {
      replica: this.replica.id,
      leader: this.replica.election.leader() ?? null,
      revision: this.publisher.revision,
      items: this.proxies.list().map((p) => ({
        id: p.id,
        streamId: p.streamId,
        group: p.group.kind === 'envoy' ? p.group.cluster : 'proxyless',
        clientKind: p.clientKind,
        userAgent: p.userAgent,
        protocol: p.protocol,
        ...(p.identity ? { identity: p.identity } : {}),
        connectedAt: p.connectedAt,
        types: Object.fromEntries(PUSH_ORDER.filter((t) => p.types[t]).map((t) => [shortType(t), p.types[t]])),
      })),
    };
  }

  config(id: string) {
    const streams = this.proxies.list().filter((p) => p.id === id);
    if (!streams.length) throw new NotFound(`no connected proxy with id ${id}`);
    return streams.map((p) => ({
      id: p.id,
      streamId: p.streamId,
      group: groupKey(p.group),
      // What this node's group was not sent, and why (NotEnforced settings, refused resources, ...).
      conditions: this.cache.snapshot(p.group)?.issues ?? [],
      configs: Object.fromEntries(
        PUSH_ORDER.filter((t) => p.sent[t]).map((t) => [shortType(t), { version: p.types[t]?.lastSentVersion, resources: p.sent[t]!.map((r) => r.json) }]),
      ),
    }));
  }
}
