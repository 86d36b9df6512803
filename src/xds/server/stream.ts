import type * as grpc from '@grpc/grpc-js';
import { status as Status } from '@grpc/grpc-js';
import { PUSH_ORDER, type TypeUrl } from '../../translate/envoy-types.js';
import type { NodeGroup } from '../../translate/types.js';
import type { XdsCache } from '../cache/cache.js';
import type { ProxyInfo, ProxyRegistry } from './proxies.js';
import type { Subscription } from './views.js';
import type { InFlight, StreamShared } from './stream-shared.js';
import type { Refusal, StreamPass } from './authz.js';

/** Per-type state every stream keeps: what is in flight, and the subscription. */
export interface TypeStateBase extends InFlight {
  sub?: Subscription;
}

/**
 * What SotW and Delta streams share: the handshake (the first request must
 * carry the node, which picks the group), per-type state, writes that stop at
 * backpressure and resume from the latest snapshot on drain (never a queue),
 * and closing. Subclasses decide what to send.
 */
export abstract class XdsStream<Req extends { node?: Record<string, any>; type_url: string }, St extends TypeStateBase> {
  group?: NodeGroup;
  info?: ProxyInfo;
  /** The caller's identity and its checks (XDS_AUTH other than none). */
  pass?: StreamPass;
  protected readonly types = new Map<TypeUrl, St>();
  protected blocked = false;
  protected closed = false;

  constructor(
    protected readonly call: grpc.ServerDuplexStream<Req, Buffer>,
    protected readonly cache: XdsCache,
    private readonly proxies: ProxyRegistry,
    protected readonly shared: StreamShared,
    private readonly onGroup: (s: XdsStream<Req, St>) => void,
    private readonly protocol: ProxyInfo['protocol'],
  ) {}

  /** One request from the client. */
  handle(req: Req): void {
    if (this.closed) return;
    if (!this.group) {
      if (!req.node) return this.fail(Status.INVALID_ARGUMENT, 'the first request on a stream must carry node');
      // Before the stream joins a group, so a refused node is never sent anything.
      const refused = this.pass?.admit(req.node);
      if (refused) return this.refuse(refused);
      this.info = this.proxies.connect(req.node, this.protocol);
      if (this.pass) this.info.identity = this.pass.identity.id;
      this.group = this.info.group;
      this.onGroup(this);
    }
    const type = req.type_url as TypeUrl;
    if (!PUSH_ORDER.includes(type)) return; // a type we do not serve: nothing to say
    let st = this.types.get(type);
    const first = !st;
    if (!st) {
      this.types.set(type, (st = this.newState(req)));
      st.subscribedAt = Date.now();
    }
    this.request(type, st, req, first);
  }

  /** Sends whatever the client lacks, from the latest snapshot. */
  abstract flush(): void;

  protected abstract newState(req: Req): St;

  /** Applies one request of `type` (ACK/NACK, subscription), then flushes. */
  protected abstract request(type: TypeUrl, st: St, req: Req, first: boolean): void;

  /** Writes one response; on backpressure, remembers that it is behind and flushes again on drain. Returns false when blocked. */
  protected write(bytes: Buffer): boolean {
    if (this.call.write(bytes)) return true;
    this.blocked = true;
    this.call.once('drain', () => {
      this.blocked = false;
      this.flush();
    });
    return false;
  }

  close(): void {
    this.pass?.release();
    if (this.closed) return;
    this.closed = true;
    if (this.info) this.proxies.remove(this.info);
    for (const st of this.types.values()) this.shared.subscriptions.release(st.sub);
  }

  /** True once the stream was closed or failed. */
  get ended(): boolean {
    return this.closed;
  }

  /** Ends the stream with a refusal's status. */
  refuse(r: Refusal): void {
    this.fail(r.code, r.details);
  }

  /**
   * Ends the stream with `code`; nothing more is read or sent on it. Cleans up
   * here, because the call's 'error' handler finds the stream already closed.
   */
  fail(code: Status, details: string): void {
    if (this.closed) return;
    this.close();
    this.call.emit('error', { code, details });
  }
}
