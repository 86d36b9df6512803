import type * as grpc from '@grpc/grpc-js';
import { PUSH_ORDER, TYPE, type TypeUrl } from '../../translate/envoy-types.js';
import { type EncodedResource, versionOf, type XdsCache } from '../cache/cache.js';
import type { ProxyRegistry } from './proxies.js';
import { type TypeStateBase, XdsStream } from './stream.js';
import { recordAnswer, recordSent, type SharedResponse, type StreamShared } from './stream-shared.js';
import { diffOf, type View, viewOf } from './views.js';
import { type DeltaDiscoveryRequest, encodeDeltaResponse } from './wire.js';

interface DeltaTypeState extends TypeStateBase {
  /** What the client holds, as a shared view: what was last sent. */
  held?: View;
  /** What a reconnecting client said it holds (name → version), until the first response replaces it. */
  initial?: Map<string, string>;
  /** Names unsubscribed since the last response: the client forgot them. */
  forgotten?: Set<string>;
}

const WILDCARD_TYPES = new Set<string>([TYPE.listener, TYPE.cluster]);

/**
 * One ADS incremental (Delta) stream: sends only resources whose content hash
 * differs from what the client holds, and removals for what it should drop.
 * Like SotW, it keeps no queue: a blocked stream catches up from the latest snapshot.
 * What the client holds is a pointer to a shared view, not a per-stream map.
 */
export class DeltaStream extends XdsStream<DeltaDiscoveryRequest, DeltaTypeState> {
  constructor(call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>, cache: XdsCache, proxies: ProxyRegistry, shared: StreamShared, onGroup: (s: DeltaStream) => void) {
    super(call, cache, proxies, shared, onGroup as (s: XdsStream<DeltaDiscoveryRequest, DeltaTypeState>) => void, 'delta');
  }

  protected newState(req: DeltaDiscoveryRequest): DeltaTypeState {
    const initial = Object.entries(req.initial_resource_versions ?? {});
    return { awaiting: false, ...(initial.length ? { initial: new Map(initial) } : {}) };
  }

  protected request(type: TypeUrl, st: DeltaTypeState, req: DeltaDiscoveryRequest, first: boolean): void {
    if (req.response_nonce) recordAnswer(this.info!, type, st, req, this.shared.hooks);
    // Subscriptions apply whatever the nonce: they are not tied to a response.
    const sub = req.resource_names_subscribe ?? [];
    const unsub = req.resource_names_unsubscribe ?? [];
    if (first || sub.length || unsub.length) {
      // Rare (subscription changes): rebuild the name set, intern it, and drop the copy.
      let wildcard = st.sub?.wildcard ?? (sub.length === 0 && WILDCARD_TYPES.has(type));
      const names = new Set(st.sub?.names);
      for (const n of sub) n === '*' ? (wildcard = true) : names.add(n);
      for (const n of unsub) {
        if (n === '*') wildcard = false;
        else if (names.delete(n)) {
          st.initial?.delete(n);
          // The client forgets it, so no removal is needed. Only a name it holds matters: a
          // subscribe/unsubscribe loop over names it never received must not grow this set.
          if (st.held?.resources.has(n)) (st.forgotten ??= new Set()).add(n);
        }
      }
      const subs = this.shared.subscriptions;
      const next = subs.intern(wildcard ? ['*', ...names] : [...names], false);
      subs.release(st.sub);
      st.sub = next;
    }
    this.flush();
  }

  /** Sends changes in push order; removals of clusters and endpoints go last (make before break). */
  override flush(): void {
    if (this.blocked || this.closed || !this.group) return;
    const snap = this.cache.snapshot(this.group);
    if (!snap) return;
    const routing = [TYPE.listener, TYPE.route].some((t) => {
      const st = this.types.get(t);
      if (!st?.sub) return false;
      const d = this.diff(st, viewOf(snap.types[t], st.sub));
      return d.changed.length > 0 || d.removed.length > 0;
    });
    for (const deferRemovals of routing ? [true, false] : [false]) {
      for (const type of PUSH_ORDER) {
        const st = this.types.get(type);
        if (!st?.sub) continue;
        const view = viewOf(snap.types[type], st.sub);
        const d = this.diff(st, view);
        const defer = deferRemovals && (type === TYPE.cluster || type === TYPE.endpoint) && d.removed.length > 0;
        if (!d.changed.length && (defer || !d.removed.length)) continue;
        if (st.awaiting) return; // one response in flight per type; later types wait behind it
        if (!this.send(type, st, view, snap.revision, d, defer)) return;
      }
    }
  }

  /** What to send to move this client to `view`: shared unless the stream has reconnect or unsubscribe history. */
  private diff(st: DeltaTypeState, view: View): { changed: EncodedResource[]; removed: string[]; shared: boolean } {
    if (st.initial) {
      const initial = st.initial;
      return {
        changed: view.list.filter((r) => initial.get(r.name) !== r.hash),
        removed: [...initial.keys()].filter((n) => !view.resources.has(n)).sort(),
        shared: false,
      };
    }
    const d = diffOf(st.held, view);
    const forgotten = st.forgotten;
    if (!forgotten?.size) return { ...d, shared: true };
    // Forgotten names need no removal, and one re-subscribed must be sent again even if unchanged.
    const again = view.list.filter((r) => forgotten.has(r.name) && !d.changed.includes(r));
    return {
      changed: again.length ? [...d.changed, ...again].sort((a, b) => (a.name < b.name ? -1 : 1)) : d.changed,
      removed: d.removed.filter((n) => !forgotten.has(n)),
      shared: false,
    };
  }

  private send(type: TypeUrl, st: DeltaTypeState, view: View, revision: number, d: { changed: EncodedResource[]; removed: string[]; shared: boolean }, deferRemovals: boolean): boolean {
    let res: SharedResponse;
    if (d.shared && !deferRemovals) res = this.shared.responses.delta(type, view, st.held);
    else {
      const removed = deferRemovals ? [] : d.removed;
      res = this.shared.responses.unique((nonce) => encodeDeltaResponse(view.version, d.changed, removed, type, nonce));
    }
    // With removals deferred the client still holds the removed ones: keep them in what it holds.
    st.held = deferRemovals ? heldWith(view, st.held, d.removed) : view;
    st.initial = undefined;
    st.forgotten = undefined;
    recordSent(this.info!, type, st, view, res, revision, this.shared.hooks);
    return this.write(res.bytes);
  }
}

/** `view` plus the named resources from `held` (removals not yet sent). */
function heldWith(view: View, held: View | undefined, names: string[]): View {
  if (!held || !names.length) return view;
  const resources = new Map(view.resources);
  for (const n of names) {
    const r = held.resources.get(n);
    if (r) resources.set(n, r);
  }
  const list = [...resources.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { version: versionOf(list), resources, list };
}
