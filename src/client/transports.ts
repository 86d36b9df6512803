/**
 * How the config client talks to the control plane: a gRPC server stream
 * (switchyard.v1.Configs/Watch) or an HTTP long poll (/api/v1/configs/watch).
 * Both resume from what the client holds, so a reconnect misses nothing.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_DIR } from '../common/paths.js';
import type { ConfigUpdateMessage } from '../model/resources.js';

/** One update as the server sends it. */
export type WireUpdate = ConfigUpdateMessage;

/** What a session asks for. */
export interface SessionRequest {
  namespace: string;
  group: string;
  names: string[];
  instanceId: string;
  labels: Record<string, string>;
  /** name → revision held. */
  known: Record<string, number>;
}

/** Callbacks of one session (one stream, or one run of long polls). */
export interface SessionHandlers {
  update(u: WireUpdate): void;
  /** The initial state has arrived (the client now holds everything it should). */
  synced(): void;
  /** The session is over (error, server shutdown): reconnect. */
  ended(err: Error): void;
}

/** A running session. */
export interface Session {
  close(): void;
}

/** A transport to one server. */
export interface Transport {
  readonly server: string;
  open(req: SessionRequest, h: SessionHandlers, known: () => Record<string, number>): Session;
  ack(key: { namespace: string; group: string; name: string }, instanceId: string, revision: number, error?: string): Promise<void>;
  close(): void;
}

let pkg: any;
function configsPackage(): any {
  pkg ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(join(PROTO_DIR, 'switchyard/v1/config.proto'), { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true }),
  );
  return pkg.switchyard.v1;
}

/** gRPC to `host:port` (the management gRPC port). */
export class GrpcTransport implements Transport {
  private readonly client: any;

  /** `tls`: connect over TLS, trusting `ca` (PEM; default: the system roots). */
  constructor(
    readonly server: string,
    tls?: { ca?: Buffer },
    private readonly token?: string,
  ) {
    const v1 = configsPackage();
    const creds = tls ? grpc.credentials.createSsl(tls.ca ?? null) : grpc.credentials.createInsecure();
    this.client = new v1.Configs(server, creds, {
      // Notice a dead control plane on a quiet stream too.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
    });
  }

  open(req: SessionRequest, h: SessionHandlers): Session {
    const call = this.client.Watch({ namespace: req.namespace, group: req.group, names: req.names, instanceId: req.instanceId, labels: req.labels, knownRevisions: req.known }, this.metadata());
    let ended = false;
    const end = (err: Error) => {
      if (ended) return;
      ended = true;
      h.ended(err);
    };
    call.on('data', (u: WireUpdate) => (u.synced ? h.synced() : h.update(u)));
    call.on('error', (e: grpc.ServiceError) => end(e));
    call.on('end', () => end(new Error('the server ended the stream')));
    return {
      close: () => {
        ended = true;
        call.cancel();
      },
    };
  }

  ack(key: { namespace: string; group: string; name: string }, instanceId: string, revision: number, error?: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.client.Ack({ key, instanceId, revision, error: error ?? '' }, this.metadata(), { deadline: Date.now() + 5000 }, (err: Error | null) => (err ? reject(err) : resolve())),
    );
  }

  private metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.token) md.set('authorization', `Bearer ${this.token}`);
    return md;
  }

  close(): void {
    this.client.close();
  }
}

/** HTTP long polling against a base URL (http://host:port). */
export class HttpTransport implements Transport {
  constructor(
    readonly server: string,
    private readonly pollTimeoutMs = 30_000,
    private readonly token?: string,
  ) {}

  private headers(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  open(req: SessionRequest, h: SessionHandlers, known: () => Record<string, number>): Session {
    let closed = false;
    let abort: AbortController | undefined;
    const loop = async () => {
      let first = true;
      while (!closed) {
        abort = new AbortController();
        const q = new URLSearchParams({ namespace: req.namespace, group: req.group, timeoutMs: String(first ? 0 : this.pollTimeoutMs) });
        if (req.names.length) q.set('names', req.names.join(','));
        if (req.instanceId) q.set('instanceId', req.instanceId);
        const labels = Object.entries(req.labels).map(([k, v]) => `${k}=${v}`).join(',');
        if (labels) q.set('labels', labels);
        const k = Object.entries(known()).map(([n, r]) => `${n}:${r}`).join(',');
        if (k) q.set('known', k);
        const timer = setTimeout(() => abort?.abort(), this.pollTimeoutMs + 10_000);
        try {
          const res = await fetch(`${this.server}/api/v1/configs/watch?${q}`, { signal: abort.signal, headers: this.headers() });
          const body = (await res.json()) as { updates?: WireUpdate[]; message?: string };
          if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.message ?? ''}`);
          for (const u of body.updates ?? []) if (!closed) h.update(u);
          // The first poll answers at once with everything that differs: after it, the client is in sync.
          if (first && !closed) h.synced();
          first = false;
        } catch (e) {
          if (!closed) h.ended(e as Error);
          return;
        } finally {
          clearTimeout(timer);
        }
      }
    };
    void loop();
    return {
      close: () => {
        closed = true;
        abort?.abort();
      },
    };
  }

  async ack(key: { namespace: string; group: string; name: string }, instanceId: string, revision: number, error?: string): Promise<void> {
    const res = await fetch(`${this.server}/api/v1/configs/${key.namespace}/${key.group}/${key.name}/ack`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.headers() },
      body: JSON.stringify({ instanceId, revision, ...(error ? { error } : {}) }),
    });
    if (!res.ok) throw new Error(`ack: HTTP ${res.status}`);
  }

  close(): void {}
}
