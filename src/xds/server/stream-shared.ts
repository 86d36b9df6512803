import { activeTracing, type PushTrace, tracePush, tracePushAnswer } from '../../observability/tracing.js';
import type { TypeUrl } from '../../translate/envoy-types.js';
import type { ProxyInfo } from './proxies.js';
import { diffOf, Subscriptions, type View } from './views.js';
import { encodeDeltaResponse, encodeResponse } from './wire.js';

/** Hooks the server uses for metrics and convergence tracking. */
export interface StreamHooks {
  onSend?(p: ProxyInfo, type: TypeUrl, version: string, bytes: number): void;
  /**
   * An ACK. `subscribedAt` (ms since the epoch) is given when the ACK ends the stream's initial sync of
   * `type`: the version ACKed is the first one sent for it, and the stream subscribed to it then.
   */
  onAck?(p: ProxyInfo, type: TypeUrl, version: string, revision: number | undefined, subscribedAt: number | undefined): void;
  onNack?(p: ProxyInfo, type: TypeUrl, version: string | undefined, message: string): void;
}

/** An encoded response and its nonce, shared by every stream sent the same content. */
export interface SharedResponse {
  bytes: Buffer;
  nonce: string;
}

/**
 * Responses shared by every stream that is sent the same change: same bytes,
 * same nonce. Keyed by type, the version the client holds and the version it
 * gets, which are content hashes, so equal keys mean equal content.
 */
export class ResponseCache {
  private readonly entries = new Map<string, SharedResponse>();
  private seq = 0;

  constructor(private readonly max = 512) {}

  /** A SotW response moving a client from `base` to `view` (only what changed when `base` is given). */
  sotw(type: string, view: View, base: View | undefined, fresh: boolean): SharedResponse {
    return this.get(`s\u0000${type}\u0000${base?.version ?? ''}\u0000${view.version}`, fresh, (nonce) =>
      encodeResponse(view.version, base ? diffOf(base, view).changed : view.list, type, nonce),
    );
  }

  /** A Delta response moving a client from `base` to `view`. */
  delta(type: string, view: View, base: View | undefined): SharedResponse {
    return this.get(`d\u0000${type}\u0000${base?.version ?? ''}\u0000${view.version}`, false, (nonce) => {
      const d = diffOf(base, view);
      return encodeDeltaResponse(view.version, d.changed, d.removed, type, nonce);
    });
  }

  /** A response for one stream only (its own nonce, never shared). */
  unique(encode: (nonce: string) => Buffer): SharedResponse {
    const nonce = `u.${(++this.seq).toString(36)}`;
    return { bytes: encode(nonce), nonce };
  }

  private get(key: string, fresh: boolean, encode: (nonce: string) => Buffer): SharedResponse {
    let e = fresh ? undefined : this.entries.get(key);
    if (!e) {
      const nonce = (++this.seq).toString(36);
      e = { bytes: encode(nonce), nonce };
      if (!fresh) {
        this.entries.set(key, e);
        if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
      }
    }
    return e;
  }
}

/** What every stream of one server shares. */
export class StreamShared {
  readonly responses = new ResponseCache();
  readonly subscriptions = new Subscriptions();
  constructor(readonly hooks: StreamHooks) {}
}

/** Sent-but-unanswered state of one type on one stream. */
export interface InFlight {
  sentVersion?: string;
  sentNonce?: string;
  sentRevision?: number;
  /** The publish span the response in flight went out under (only while tracing records): its answer's span hangs from it. */
  sentTrace?: PushTrace;
  awaiting: boolean;
  /** When the stream first requested this type (ms since the epoch): the start of its initial sync. */
  subscribedAt?: number;
  /** The response in flight is the first version sent of this type on this stream (the client had none from it, and none it said it held). */
  firstPush?: boolean;
}

/** Attributes naming one push: enough to match the proxy's ACK to it. */
const pushAttributes = (info: ProxyInfo, type: TypeUrl, version: string | undefined, nonce: string, revision: number | undefined) => ({
  'xds.proxy': info.id,
  'xds.type': type,
  'xds.version': version ?? '',
  'xds.nonce': nonce,
  ...(revision !== undefined ? { 'switchyard.registry.revision': revision } : {}),
});

/**
 * Records the client's answer to the response in flight: an ACK, or a NACK with
 * its message. Returns 'stale' for an old nonce (a newer response is out), and
 * 'repeat' for the nonce of a response already answered: clients repeat it on
 * later requests (Envoy with each subscription change), and counting those as
 * ACKs would record convergence and initial syncs again, or take a request
 * after a NACK for an ACK of the rejected version.
 */
export function recordAnswer(
  info: ProxyInfo,
  type: TypeUrl,
  st: InFlight,
  req: { response_nonce: string; error_detail?: { message: string } },
  hooks: StreamHooks,
): 'ack' | 'nack' | 'repeat' | 'stale' {
  if (req.response_nonce !== st.sentNonce) return 'stale';
  if (!st.awaiting) return 'repeat';
  st.awaiting = false;
  const traced = st.sentTrace;
  st.sentTrace = undefined;
  if (traced) tracePushAnswer(traced, req.error_detail ? 'nack' : 'ack', pushAttributes(info, type, st.sentVersion, req.response_nonce, st.sentRevision), req.error_detail?.message);
  const status = (info.types[type] ??= {});
  if (req.error_detail) {
    status.lastNack = { version: st.sentVersion, nonce: req.response_nonce, message: req.error_detail.message, at: new Date().toISOString() };
    hooks.onNack?.(info, type, st.sentVersion, req.error_detail.message);
    return 'nack';
  }
  status.lastAckedVersion = st.sentVersion;
  status.lastAckedAt = new Date().toISOString();
  // The first version's ACK is the initial sync; later ones are convergence (a NACKed first version leaves no initial sync).
  hooks.onAck?.(info, type, st.sentVersion!, st.sentRevision, st.firstPush ? st.subscribedAt : undefined);
  return 'ack';
}

/** Marks a response as sent on the stream's per-type status. */
export function recordSent(info: ProxyInfo, type: TypeUrl, st: InFlight, view: View, res: SharedResponse, revision: number, hooks: StreamHooks): void {
  // No version sent yet (nor one a reconnecting SotW client holds, which sets sentVersion without a send): this is the first.
  st.firstPush = st.sentVersion === undefined;
  st.sentVersion = view.version;
  st.sentNonce = res.nonce;
  st.sentRevision = revision;
  // Tracing off: one variable read per push, no closure.
  st.sentTrace = activeTracing() ? tracePush(() => pushAttributes(info, type, view.version, res.nonce, revision)) : undefined;
  st.awaiting = true;
  const status = (info.types[type] ??= {});
  status.lastSentVersion = view.version;
  status.lastSentAt = new Date().toISOString();
  info.sent[type] = view.list;
  hooks.onSend?.(info, type, view.version, res.bytes.length);
}
