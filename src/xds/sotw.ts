import type * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import type { NodeGroup } from '../translate/xds.js';
import { type EncodedResource, type GroupSnapshot, versionOf, type XdsCache } from './cache.js';
import { PUSH_ORDER, TYPE, type TypeUrl } from './envoy-protos.js';
import type { ProxyInfo, ProxyRegistry } from './proxies.js';
import { type DiscoveryRequest, encodeResponse } from './wire.js';

/** Hooks the server uses for metrics and convergence tracking. */
export interface StreamHooks {
  onSend?(p: ProxyInfo, type: TypeUrl, version: string, bytes: number): void;
  onAck?(p: ProxyInfo, type: TypeUrl, version: string, revision: number | undefined): void;
  onNack?(p: ProxyInfo, type: TypeUrl, version: string | undefined, message: string): void;
}

interface TypeState {
  subscribed: boolean;
  wildcard: boolean;
  names: Set<string>;
  sentVersion?: string;
  sentNonce?: string;
  /** Registry revision of the snapshot last sent. */
  sentRevision?: number;
  nackedVersion?: string;
  /** Version the client said it already has when it (re)connected. */
  clientVersion?: string;
  /** A subscription change that must be answered even with unchanged content. */
  mustAnswer: boolean;
  /** A response is out and not yet ACKed or NACKed: the next one waits (one in flight per type). */
  awaiting: boolean;
}

/** Responses shared by every stream that is sent the same content (same bytes, same nonce). */
export class ResponseCache {
  private readonly entries = new Map<string, { bytes: Buffer; nonce: string }>();
  private seq = 0;

  constructor(private readonly max = 256) {}

  get(type: string, version: string, resources: EncodedResource[], fresh: boolean): { bytes: Buffer; nonce: string } {
    const key = `${type}\u0000${version}`;
    let e = fresh ? undefined : this.entries.get(key);
    if (!e) {
      const nonce = `${version.slice(0, 8)}.${(++this.seq).toString(36)}`;
      e = { bytes: encodeResponse(version, resources, type, nonce), nonce };
      if (!fresh) {
        this.entries.set(key, e);
        if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
      }
    }
    return e;
  }
}

const WILDCARD_TYPES = new Set<string>([TYPE.listener, TYPE.cluster]);

/**
 * One ADS state-of-the-world stream. It never queues responses: at most one
 * response per type is in flight (until ACK or NACK), and a stream that is not
 * writable only remembers that it is behind; either way the client later gets
 * the latest snapshot per type, never the versions in between.
 */
export class SotwStream {
  group?: NodeGroup;
  info?: ProxyInfo;
  private readonly types = new Map<TypeUrl, TypeState>();
  private blocked = false;
  private closed = false;

  constructor(
    private readonly call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>,
    private readonly cache: XdsCache,
    private readonly proxies: ProxyRegistry,
    private readonly responses: ResponseCache,
    private readonly hooks: StreamHooks,
    private readonly onGroup: (s: SotwStream) => void,
  ) {}

  handle(req: DiscoveryRequest): void {
    if (this.closed) return;
    if (!this.group) {
      if (!req.node) return this.fail(Status.INVALID_ARGUMENT, 'the first request on a stream must carry node');
      this.info = this.proxies.connect(req.node, 'sotw');
      this.group = this.info.group;
      this.onGroup(this);
    }
    const type = req.type_url as TypeUrl;
    if (!PUSH_ORDER.includes(type)) return; // a type we do not serve: nothing to say
    let st = this.types.get(type);
    if (!st) {
      st = { subscribed: false, wildcard: false, names: new Set(), mustAnswer: false, awaiting: false };
      this.types.set(type, st);
    }
    const status = (this.info!.types[type] ??= {});
    if (req.response_nonce) {
      if (req.response_nonce !== st.sentNonce) return; // stale: a newer response is in flight
      st.awaiting = false;
      if (req.error_detail) {
        st.nackedVersion = st.sentVersion;
        status.lastNack = { version: st.sentVersion, nonce: req.response_nonce, message: req.error_detail.message, at: new Date().toISOString() };
        this.hooks.onNack?.(this.info!, type, st.sentVersion, req.error_detail.message);
      } else {
        status.lastAckedVersion = st.sentVersion;
        status.lastAckedAt = new Date().toISOString();
        this.hooks.onAck?.(this.info!, type, st.sentVersion!, st.sentRevision);
      }
    } else if (req.version_info) {
      st.clientVersion = req.version_info; // reconnecting client: it already holds this version
    }
    const names = req.resource_names.filter((n) => n !== '*');
    const wildcard = req.resource_names.includes('*') || (names.length === 0 && WILDCARD_TYPES.has(type));
    const changed = !st.subscribed || wildcard !== st.wildcard || names.length !== st.names.size || names.some((n) => !st!.names.has(n));
    st.subscribed = true;
    st.wildcard = wildcard;
    st.names = new Set(names);
    if (changed && req.response_nonce) st.mustAnswer = true;
    this.flush();
  }

  /**
   * Sends whatever the client lacks, make-before-break: first clusters and
   * endpoints with anything removed still included, then listeners and routes,
   * then clusters and endpoints again without the removed ones.
   */
  flush(): void {
    if (this.blocked || this.closed || !this.group) return;
    const snap = this.cache.snapshot(this.group);
    if (!snap) return; // nothing built yet; the first build flushes every stream
    const routingChanges = PUSH_ORDER.some((t) => (t === TYPE.listener || t === TYPE.route) && this.pending(t, snap));
    for (const keep of routingChanges ? [true, false] : [false]) {
      for (const type of PUSH_ORDER) {
        const st = this.types.get(type);
        if (!st?.subscribed) continue;
        let view = this.view(st, snap, type);
        if (keep && (type === TYPE.cluster || type === TYPE.endpoint)) view = this.keepRemoved(type, view);
        // While the last response of this type is unanswered, send nothing after it either:
        // later types may depend on what this one has still to deliver.
        if (st.awaiting) {
          if (st.mustAnswer || (view.version !== st.sentVersion && view.version !== st.nackedVersion)) return;
          continue;
        }
        if (!st.mustAnswer) {
          if (view.version === st.sentVersion || view.version === st.nackedVersion) continue;
          if (st.sentVersion === undefined && view.version === st.clientVersion) {
            // Reconnected with exactly this content: acknowledge without resending.
            st.sentVersion = view.version;
            const s = (this.info!.types[type] ??= {});
            s.lastSentVersion = s.lastAckedVersion = view.version;
            continue;
          }
        }
        st.sentRevision = snap.revision;
        this.send(type, st, view.version, view.resources, st.mustAnswer && view.version === st.sentVersion);
        st.mustAnswer = false;
        if (this.blocked) return;
      }
    }
  }

  private pending(type: TypeUrl, snap: GroupSnapshot): boolean {
    const st = this.types.get(type);
    if (!st?.subscribed) return false;
    const v = this.view(st, snap, type).version;
    return st.mustAnswer || (v !== st.sentVersion && v !== st.nackedVersion);
  }

  /** The view plus whatever was last sent and is now gone: removals wait until routes stop using them. */
  private keepRemoved(type: TypeUrl, view: { version: string; resources: EncodedResource[] }) {
    const last = this.info!.sent[type];
    if (!last?.length) return view;
    const names = new Set(view.resources.map((r) => r.name));
    const gone = last.filter((r) => !names.has(r.name));
    if (!gone.length) return view;
    const resources = [...view.resources, ...gone].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { version: versionOf(resources), resources };
  }

  close(): void {
    this.closed = true;
    if (this.info) this.proxies.remove(this.info);
  }

  private view(st: TypeState, snap: GroupSnapshot, type: TypeUrl): { version: string; resources: EncodedResource[] } {
    const ts = snap.types[type];
    if (st.wildcard) return { version: ts.version, resources: ts.list };
    const resources = [...st.names].sort().flatMap((n) => ts.resources.get(n) ?? []);
    return { version: versionOf(resources), resources };
  }

  private send(type: TypeUrl, st: TypeState, version: string, resources: EncodedResource[], fresh: boolean): void {
    const { bytes, nonce } = this.responses.get(type, version, resources, fresh);
    st.sentVersion = version;
    st.sentNonce = nonce;
    st.awaiting = true;
    const status = (this.info!.types[type] ??= {});
    status.lastSentVersion = version;
    status.lastSentAt = new Date().toISOString();
    this.info!.sent[type] = resources;
    this.hooks.onSend?.(this.info!, type, version, bytes.length);
    if (!this.call.write(bytes)) {
      this.blocked = true;
      this.call.once('drain', () => {
        this.blocked = false;
        this.flush();
      });
    }
  }

  private fail(code: Status, details: string): void {
    this.closed = true;
    this.call.emit('error', { code, details });
  }
}
