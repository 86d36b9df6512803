import type * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import type { NodeGroup } from '../translate/xds.js';
import type { EncodedResource, XdsCache } from './cache.js';
import { PUSH_ORDER, TYPE, type TypeUrl } from './envoy-protos.js';
import type { ProxyInfo, ProxyRegistry } from './proxies.js';
import type { StreamHooks } from './sotw.js';
import { type DeltaDiscoveryRequest, encodeDeltaResponse } from './wire.js';

interface DeltaTypeState {
  subscribed: boolean;
  wildcard: boolean;
  names: Set<string>;
  /** What the client holds: name → per-resource version (content hash). */
  known: Map<string, string>;
  sentNonce?: string;
  sentVersion?: string;
  sentRevision?: number;
  /** A response is out and not yet ACKed or NACKed (one in flight per type). */
  awaiting: boolean;
}

const WILDCARD_TYPES = new Set<string>([TYPE.listener, TYPE.cluster]);

/**
 * One ADS incremental (Delta) stream: sends only resources whose content hash
 * differs from what the client holds, and removals for what it should drop.
 * Like SotW, it keeps no queue: a blocked stream catches up from the latest snapshot.
 */
export class DeltaStream {
  group?: NodeGroup;
  info?: ProxyInfo;
  private readonly types = new Map<TypeUrl, DeltaTypeState>();
  private blocked = false;
  private closed = false;
  private seq = 0;

  constructor(
    private readonly call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>,
    private readonly cache: XdsCache,
    private readonly proxies: ProxyRegistry,
    private readonly hooks: StreamHooks,
    private readonly onGroup: (s: DeltaStream) => void,
  ) {}

  handle(req: DeltaDiscoveryRequest): void {
    if (this.closed) return;
    if (!this.group) {
      if (!req.node) return this.fail(Status.INVALID_ARGUMENT, 'the first request on a stream must carry node');
      this.info = this.proxies.connect(req.node, 'delta');
      this.group = this.info.group;
      this.onGroup(this);
    }
    const type = req.type_url as TypeUrl;
    if (!PUSH_ORDER.includes(type)) return;
    let st = this.types.get(type);
    const first = !st;
    if (!st) {
      st = { subscribed: true, wildcard: false, names: new Set(), known: new Map(), awaiting: false };
      this.types.set(type, st);
      for (const [n, v] of Object.entries(req.initial_resource_versions ?? {})) st.known.set(n, v);
    }
    const status = (this.info!.types[type] ??= {});
    if (req.response_nonce && req.response_nonce === st.sentNonce) {
      st.awaiting = false;
      if (req.error_detail) {
        status.lastNack = { version: st.sentVersion, nonce: req.response_nonce, message: req.error_detail.message, at: new Date().toISOString() };
        this.hooks.onNack?.(this.info!, type, st.sentVersion, req.error_detail.message);
      } else {
        status.lastAckedVersion = st.sentVersion;
        status.lastAckedAt = new Date().toISOString();
        this.hooks.onAck?.(this.info!, type, st.sentVersion!, st.sentRevision);
      }
    }
    // Subscriptions apply whatever the nonce: they are not tied to a response.
    const sub = req.resource_names_subscribe ?? [];
    const unsub = req.resource_names_unsubscribe ?? [];
    if (first && sub.length === 0 && WILDCARD_TYPES.has(type)) st.wildcard = true;
    for (const n of sub) n === '*' ? (st.wildcard = true) : st.names.add(n);
    for (const n of unsub) {
      if (n === '*') st.wildcard = false;
      else {
        st.names.delete(n);
        st.known.delete(n); // the client forgets it; no removal needed
      }
    }
    this.flush();
  }

  /** Sends changes in push order; removals of clusters and endpoints go last (make before break). */
  flush(): void {
    if (this.blocked || this.closed || !this.group) return;
    const snap = this.cache.snapshot(this.group);
    if (!snap) return;
    const diff = (type: TypeUrl, st: DeltaTypeState) => {
      const ts = snap.types[type];
      const wanted = st.wildcard ? ts.list : [...st.names].sort().flatMap((n) => ts.resources.get(n) ?? []);
      const present = new Set(wanted.map((r) => r.name));
      return {
        version: ts.version,
        wanted,
        changed: wanted.filter((r) => st.known.get(r.name) !== r.hash),
        removed: [...st.known.keys()].filter((n) => !present.has(n)).sort(),
      };
    };
    const routing = [TYPE.listener, TYPE.route].some((t) => {
      const st = this.types.get(t);
      if (!st?.subscribed) return false;
      const d = diff(t, st);
      return d.changed.length > 0 || d.removed.length > 0;
    });
    for (const deferRemovals of routing ? [true, false] : [false]) {
      for (const type of PUSH_ORDER) {
        const st = this.types.get(type);
        if (!st?.subscribed) continue;
        const d = diff(type, st);
        const removed = deferRemovals && (type === TYPE.cluster || type === TYPE.endpoint) ? [] : d.removed;
        if (!d.changed.length && !removed.length) continue;
        if (st.awaiting) return; // one response in flight per type; later types wait behind it
        if (!this.send(type, st, d.version, snap.revision, d.changed, removed, d.wanted)) return;
      }
    }
  }

  private send(type: TypeUrl, st: DeltaTypeState, version: string, revision: number, changed: EncodedResource[], removed: string[], wanted: EncodedResource[]): boolean {
    const nonce = `${(++this.seq).toString(36)}`;
    const bytes = encodeDeltaResponse(version, changed, removed, type, nonce);
    for (const r of changed) st.known.set(r.name, r.hash);
    for (const n of removed) st.known.delete(n);
    st.sentNonce = nonce;
    st.sentVersion = version;
    st.sentRevision = revision;
    st.awaiting = true;
    const s = (this.info!.types[type] ??= {});
    s.lastSentVersion = version;
    s.lastSentAt = new Date().toISOString();
    this.info!.sent[type] = wanted;
    this.hooks.onSend?.(this.info!, type, version, bytes.length);
    if (this.call.write(bytes)) return true;
    this.blocked = true;
    this.call.once('drain', () => {
      this.blocked = false;
      this.flush();
    });
    return false;
  }

  close(): void {
    this.closed = true;
    if (this.info) this.proxies.remove(this.info);
  }

  private fail(code: Status, details: string): void {
    this.closed = true;
    this.call.emit('error', { code, details });
  }
}
