/**
 * One simulated xDS client on one ADS stream: Envoy-like (SotW or Delta) or a
 * proxyless gRPC client. It subscribes the way the real client does, ACKs
 * every response, follows references to the next type (clusters → endpoints,
 * listeners → routes, and for gRPC host → listener → routes → clusters →
 * endpoints), and reconnects with backoff when the stream fails.
 */
import * as grpc from '@grpc/grpc-js';
import { encodeDeltaRequest, encodeRequest } from '../xds-wire.js';
import { readDeltaEnvelope, readSotwEnvelope } from './envelope.js';
import { KEY_OF, type ProxySpec, type ProxyState, TYPE_KEYS, TYPE_URL, type TypeKey } from './messages.js';
import { type Held, type NameSet, StateStore } from './state.js';
import { now } from './stats.js';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService';
const pass = (b: Buffer) => b;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 5000;

/** What a proxy reports to whoever runs it (a worker, or the capture client). */
export interface ProxyHooks {
  store: StateStore;
  ackDelayMs: number;
  criterion: 'version' | 'response';
  onSynced?(p: SimProxy): void;
  onConverged?(p: SimProxy): void;
  onConnected?(p: SimProxy): void;
  onRetry?(p: SimProxy, code: string): void;
  /** Every raw response, before decoding (the floor's capture client records them). */
  record?(type: TypeKey, buf: Buffer, at: number): void;
}

interface TypeState {
  key: TypeKey;
  /** LDS/CDS of Envoy-like proxies: all resources of the type. */
  wildcard: boolean;
  /** The type whose held resources name what this type subscribes to. */
  source?: TypeKey;
  /** Desired subscription. */
  names: NameSet;
  /** Subscription last sent to the server; undefined = never subscribed. */
  sentNames?: NameSet;
  held: Held;
  /** Version of the last response received and of the last one ACKed. */
  received?: string;
  acked?: string;
  nonce?: string;
  /** A received response waits for its (possibly delayed) ACK. */
  pendingAck: boolean;
}

interface Armed {
  change: number;
  expect: TypeKey[];
  versions: Partial<Record<TypeKey, string>>;
  received: Set<TypeKey>;
  acked: Set<TypeKey>;
  bytesAtArm: number;
  firstRecv?: number;
  convergedAt?: number;
  unexpected: number;
}

const statusName = (code: number) => grpc.status[code] ?? String(code);

export class SimProxy {
  readonly delta: boolean;
  private call?: grpc.ClientDuplexStream<Buffer, Buffer>;
  private readonly types = new Map<TypeKey, TypeState>();
  private readonly nodeBytes: Buffer;
  private attempts = 0;
  private stopping = false;
  private paused = false;
  private timers = new Set<NodeJS.Timeout>();
  /** First connect attempt, and the ACK that completed the first full config (epoch ms). */
  connectAt?: number;
  syncedAt?: number;
  connected = false;
  /** Response bytes received. */
  bytes = 0;
  bytesAtSync = 0;
  armed?: Armed;

  constructor(
    readonly spec: ProxySpec,
    private readonly client: grpc.Client,
    private readonly hooks: ProxyHooks,
  ) {
    this.delta = spec.kind === 'envoy-delta';
    const node =
      spec.kind === 'grpc'
        ? { id: spec.id, user_agent_name: 'gRPC Node Pure JS', locality: {} }
        : { id: spec.id, cluster: spec.group ?? 'default', user_agent_name: 'envoy', locality: {} };
    // Node on every request, like Envoy by default; encoded once and prepended to shared request bodies.
    this.nodeBytes = this.delta ? encodeDeltaRequest({ node }) : encodeRequest({ node });
  }

  /** Opens the stream (again, after a failure) and subscribes from scratch. */
  start(): void {
    if (this.stopping) return;
    this.connectAt ??= now();
    this.reset();
    const call = this.client.makeBidiStreamRequest(`${ADS}/${this.delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources'}`, pass, pass);
    this.call = call;
    call.on('data', (b: Buffer) => this.onData(call, b));
    call.on('error', () => undefined); // the status event carries the outcome
    call.on('status', (s: grpc.StatusObject) => this.onStatus(call, s));
    for (const st of this.types.values()) if (st.wildcard || st.names.names.length) this.subscribe(st);
  }

  private reset(): void {
    const s = this.hooks.store;
    const t = (key: TypeKey, wildcard: boolean, source?: TypeKey, names = s.noNames): TypeState => ({ key, wildcard, source, names, held: s.empty, pendingAck: false });
    this.types.clear();
    const list =
      this.spec.kind === 'grpc'
        ? [t('lds', false, undefined, s.names([this.spec.host!])), t('rds', false, 'lds'), t('cds', false, 'rds'), t('eds', false, 'cds')]
        : [t('cds', true), t('eds', false, 'cds'), t('lds', true), t('rds', false, 'lds')];
    for (const st of list) this.types.set(st.key, st);
    this.connected = false;
  }

  private write(body: Buffer): void {
    this.call?.write(Buffer.concat([this.nodeBytes, body]));
  }

  /** Sends the current subscription of a type (first request, or a change of names). */
  private subscribe(st: TypeState): void {
    const s = this.hooks.store;
    if (this.delta) this.write(s.deltaSubscribeBody(TYPE_URL[st.key], st.sentNames ?? s.noNames, st.names));
    // SotW: a request repeats the last version and nonce of the type; only the names are new.
    else this.write(s.sotwBody(TYPE_URL[st.key], st.acked ?? '', st.nonce ?? '', st.names));
    st.sentNames = st.names;
  }

  private onData(call: grpc.ClientDuplexStream<Buffer, Buffer>, buf: Buffer): void {
    if (call !== this.call) return;
    const at = now();
    this.bytes += buf.length;
    this.attempts = 0;
    if (!this.connected) {
      this.connected = true;
      this.hooks.onConnected?.(this);
    }
    const s = this.hooks.store;
    let version: string, nonce: string, st: TypeState | undefined;
    if (this.delta) {
      const env = readDeltaEnvelope(buf);
      st = this.types.get(KEY_OF[env.typeUrl]);
      if (!st) return;
      this.hooks.record?.(st.key, buf, at);
      st.held = s.applyDelta(st.held, env, s.deltaResources(st.key, env, buf));
      [version, nonce] = [env.systemVersion, env.nonce];
    } else {
      const env = readSotwEnvelope(buf);
      st = this.types.get(KEY_OF[env.typeUrl]);
      if (!st) return;
      this.hooks.record?.(st.key, buf, at);
      const { key, resources } = s.sotwResources(st.key, env, buf);
      // LDS and CDS responses are the full state; EDS and RDS ones may carry only what changed.
      st.held = st.key === 'lds' || st.key === 'cds' ? s.replace(key, resources) : s.merge(st.held, key, resources);
      [version, nonce] = [env.version, env.nonce];
    }
    this.noteReceipt(st, version, at);
    st.received = version;
    st.nonce = nonce;
    st.pendingAck = true;
    this.follow(st);
    const ack = () => this.ack(call, st!, version, nonce);
    if (this.hooks.ackDelayMs > 0) this.later(ack, this.hooks.ackDelayMs);
    else ack();
  }

  /** New held resources of `src` may change what the types that follow from it subscribe to. */
  private follow(src: TypeState): void {
    const s = this.hooks.store;
    for (const st of this.types.values()) {
      if (st.source !== src.key) continue;
      const names = s.refs(src.held);
      if (names === st.names) continue;
      st.names = names;
      st.held = s.prune(st.held, names);
      this.follow(st);
    }
  }

  private ack(call: grpc.ClientDuplexStream<Buffer, Buffer>, st: TypeState, version: string, nonce: string): void {
    if (call !== this.call || this.stopping) return;
    const s = this.hooks.store;
    st.pendingAck = false;
    if (this.delta) this.write(encodeDeltaRequest({ type_url: TYPE_URL[st.key], response_nonce: nonce }));
    else {
      // A SotW ACK carries the current subscription, so it also delivers a change of names.
      this.write(s.sotwBody(TYPE_URL[st.key], version, nonce, st.names));
      st.sentNames = st.names;
    }
    st.acked = version;
    if (this.armed?.received.has(st.key)) this.armed.acked.add(st.key);
    // Subscription changes wait for the ACK of their own type's pending response (its ACK carries them in SotW).
    for (const t of this.types.values()) if (t.names !== t.sentNames && !t.pendingAck && (t.names.names.length || t.sentNames)) this.subscribe(t);
    this.check();
  }

  /** Whether the proxy holds (and has ACKed) a complete config: every type, every subscribed name. */
  isSynced(): boolean {
    const s = this.hooks.store;
    for (const st of this.types.values()) {
      if (st.acked === undefined || st.pendingAck) return false;
      if (!st.wildcard && (st.sentNames !== st.names || !s.covers(st.held, st.names))) return false;
    }
    return true;
  }

  private check(): void {
    if (this.syncedAt === undefined && this.isSynced()) {
      this.syncedAt = now();
      this.bytesAtSync = this.bytes;
      this.hooks.onSynced?.(this);
      // A slow proxy stops reading: HTTP/2 flow control backs up on the server.
      if (this.spec.slow) this.pause();
    }
    const a = this.armed;
    if (!a || a.convergedAt !== undefined) return;
    const done =
      this.hooks.criterion === 'response'
        ? a.expect.every((t) => a.acked.has(t))
        : a.expect.every((t) => this.types.get(t)?.acked !== a.versions[t]) && this.isSynced();
    if (done) {
      a.convergedAt = now();
      this.hooks.onConverged?.(this);
    }
  }

  private noteReceipt(st: TypeState, version: string, at: number): void {
    const a = this.armed;
    if (!a) return;
    if (!a.expect.includes(st.key)) {
      if (version !== st.received) a.unexpected++;
    } else if (a.convergedAt === undefined && (this.hooks.criterion === 'response' || version !== a.versions[st.key])) {
      a.received.add(st.key);
      a.firstRecv ??= at;
    }
  }

  /** Snapshots the ACKed versions of the types a change is expected to touch. Empty `expect` = excluded. */
  arm(change: number, expect: TypeKey[]): void {
    this.armed = {
      change,
      expect,
      versions: Object.fromEntries(expect.map((t) => [t, this.types.get(t)?.acked])),
      received: new Set(),
      acked: new Set(),
      bytesAtArm: this.bytes,
      unexpected: 0,
      ...(expect.length ? {} : { convergedAt: NaN }),
    };
  }

  pause(): void {
    this.paused = true;
    this.call?.pause();
  }

  private onStatus(call: grpc.ClientDuplexStream<Buffer, Buffer>, s: grpc.StatusObject): void {
    if (call !== this.call || this.stopping) return;
    this.connected = false;
    this.call = undefined;
    // Like Envoy: fully jittered exponential backoff, then a fresh stream.
    const delay = Math.random() * Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** this.attempts);
    this.attempts++;
    this.hooks.onRetry?.(this, s.code === grpc.status.RESOURCE_EXHAUSTED ? statusName(s.code) : `${statusName(s.code)} (${s.details.slice(0, 60)})`);
    this.later(() => this.start(), delay);
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** Closes the stream for good. */
  stop(): void {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.paused) this.call?.resume();
    this.call?.cancel();
    this.call = undefined;
  }

  state(): ProxyState {
    return {
      id: this.spec.id,
      kind: this.spec.kind,
      slow: !!this.spec.slow,
      synced: this.syncedAt !== undefined,
      connected: this.connected,
      acked: Object.fromEntries(TYPE_KEYS.filter((k) => this.types.get(k)?.acked !== undefined).map((k) => [k, this.types.get(k)!.acked!])),
      held: Object.fromEntries(TYPE_KEYS.filter((k) => this.types.has(k)).map((k) => [k, this.types.get(k)!.held.byName.size])),
    };
  }
}

/** A client (one HTTP/2 connection) for `target`; streams on it share the connection. */
export function connection(target: string): grpc.Client {
  return new grpc.Client(target, grpc.credentials.createInsecure(), {
    // Without a local pool, clients to one target would share one subchannel (one connection).
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
    'grpc.keepalive_time_ms': 60_000,
    // Envoy opens xDS connections with large HTTP/2 windows (256 MiB by default); with the 64 KiB
    // default a full EDS response would need a dozen WINDOW_UPDATE round trips.
    'grpc-node.flow_control_window': 16 * 1024 * 1024,
  });
}
