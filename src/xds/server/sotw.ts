import type * as grpc from '@grpc/grpc-js';
import { PUSH_ORDER, TYPE, type TypeUrl } from '../../translate/envoy-types.js';
import type { GroupSnapshot, XdsCache } from '../cache/cache.js';
import type { ProxyRegistry } from './proxies.js';
import { type TypeStateBase, XdsStream } from './stream.js';
import { recordAnswer, recordSent, type StreamShared } from './stream-shared.js';
import { keepRemoved, sameRaw, type View, viewOf } from './views.js';
import type { DiscoveryRequest } from './wire.js';

interface TypeState extends TypeStateBase {
  /** The view last sent. */
  sent?: View;
  /** The view the client holds: the last one it ACKed. */
  held?: View;
  nackedVersion?: string;
  /** Version the client said it already has when it (re)connected. */
  clientVersion?: string;
  /** A subscription change that must be answered even with unchanged content. */
  mustAnswer: boolean;
}

const WILDCARD_TYPES = new Set<string>([TYPE.listener, TYPE.cluster]);
/** Types whose SotW responses need not repeat unchanged resources (the xDS spec requires full state only for LDS and CDS). */
const INCREMENTAL_TYPES = new Set<string>([TYPE.endpoint, TYPE.route]);

/**
 * One ADS state-of-the-world stream. It never queues responses: at most one
 * response per type is in flight (until ACK or NACK), and a stream that is not
 * writable only remembers that it is behind; either way the client later gets
 * the latest snapshot per type, never the versions in between. Per-stream
 * state is a few pointers into shared views (see views.ts), so a stream costs
 * the same whatever the catalogue's size.
 */
export class SotwStream extends XdsStream<DiscoveryRequest, TypeState> {
  constructor(call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>, cache: XdsCache, proxies: ProxyRegistry, shared: StreamShared, onGroup: (s: SotwStream) => void) {
    super(call, cache, proxies, shared, onGroup as (s: XdsStream<DiscoveryRequest, TypeState>) => void, 'sotw');
  }

  protected newState(): TypeState {
    return { mustAnswer: false, awaiting: false };
  }

  protected request(type: TypeUrl, st: TypeState, req: DiscoveryRequest): void {
    if (req.response_nonce) {
      const answer = recordAnswer(this.info!, type, st, req, this.shared.hooks);
      if (answer === 'stale') return; // a newer response is in flight
      if (answer === 'nack') st.nackedVersion = st.sent?.version;
      else if (answer === 'ack') st.held = st.sent;
    } else if (req.version_info) {
      st.clientVersion = req.version_info; // reconnecting client: it already holds this version
    }
    // ACKs repeat the subscription: compare its bytes, and decode names only when they differ.
    const raw = req.names_raw;
    if (!(raw && sameRaw(st.sub, raw))) {
      const subs = this.shared.subscriptions;
      const next = subs.intern(req.resource_names, WILDCARD_TYPES.has(type), raw);
      if (next === st.sub) subs.release(next);
      else {
        if (st.sub && req.response_nonce) st.mustAnswer = true;
        subs.release(st.sub);
        st.sub = next;
      }
    }
    this.flush();
  }

  /**
   * Sends whatever the client lacks, make-before-break: first clusters and
   * endpoints with anything removed still included, then listeners and routes,
   * then clusters and endpoints again without the removed ones.
   */
  override flush(): void {
    if (this.blocked || this.closed || !this.group) return;
    const snap = this.cache.snapshot(this.group);
    if (!snap) return; // nothing built yet; the first build flushes every stream
    const routingChanges = PUSH_ORDER.some((t) => (t === TYPE.listener || t === TYPE.route) && this.pending(t, snap));
    for (const keep of routingChanges ? [true, false] : [false]) {
      for (const type of PUSH_ORDER) {
        const st = this.types.get(type);
        if (!st?.sub) continue;
        let view = viewOf(snap.types[type], st.sub);
        if (keep && (type === TYPE.cluster || type === TYPE.endpoint)) view = keepRemoved(st.sent, view);
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
            st.sent = st.held = view;
            const s = (this.info!.types[type] ??= {});
            s.lastSentVersion = s.lastAckedVersion = view.version;
            this.info!.sent[type] = view.list;
            continue;
          }
        }
        this.send(type, st, view, snap.revision, st.mustAnswer && view.version === st.sentVersion);
        st.mustAnswer = false;
        if (this.blocked) return;
      }
    }
  }

  private pending(type: TypeUrl, snap: GroupSnapshot): boolean {
    const st = this.types.get(type);
    if (!st?.sub) return false;
    const v = viewOf(snap.types[type], st.sub).version;
    return st.mustAnswer || (v !== st.sentVersion && v !== st.nackedVersion);
  }

  private send(type: TypeUrl, st: TypeState, view: View, revision: number, fresh: boolean): void {
    // EDS and RDS carry only what changed since the client's last ACK; LDS and CDS are always full state.
    const base = INCREMENTAL_TYPES.has(type) ? st.held : undefined;
    const res = this.shared.responses.sotw(type, view, base, fresh);
    st.sent = view;
    recordSent(this.info!, type, st, view, res, revision, this.shared.hooks);
    this.write(res.bytes);
  }
}
