import * as grpc from '@grpc/grpc-js';
import { decodeDeltaResponse, decodeResponse, encodeDeltaRequest, encodeRequest } from '../../tools/xds-wire.js';

const pass = (b: Buffer) => b;

/** A protocol-level ADS client for tests: sends raw requests, queues decoded responses. */
export class AdsTestClient<R = ReturnType<typeof decodeResponse>> {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  private readonly queue: R[] = [];
  private waiters: ((r: R) => void)[] = [];
  status?: grpc.StatusObject;
  private ended?: (s: grpc.StatusObject) => void;

  /** `opts.credentials` for TLS/mTLS (default plaintext), `opts.metadata` e.g. an authorization header, `opts.host` to match a certificate. */
  constructor(
    port: number,
    private readonly delta = false,
    path?: string,
    opts: { credentials?: grpc.ChannelCredentials; metadata?: grpc.Metadata; host?: string } = {},
  ) {
    this.client = new grpc.Client(`${opts.host ?? '127.0.0.1'}:${port}`, opts.credentials ?? grpc.credentials.createInsecure());
    const method = delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources';
    this.call = this.client.makeBidiStreamRequest(path ?? `/envoy.service.discovery.v3.AggregatedDiscoveryService/${method}`, pass, pass, opts.metadata ?? new grpc.Metadata());
    this.call.on('data', (b: Buffer) => {
      const r = (delta ? decodeDeltaResponse(b) : decodeResponse(b)) as R;
      const w = this.waiters.shift();
      if (w) w(r);
      else this.queue.push(r);
    });
    this.call.on('status', (s) => {
      this.status = s;
      this.ended?.(s);
    });
    this.call.on('error', () => undefined);
  }

  send(req: Record<string, unknown>): void {
    this.call.write(this.delta ? encodeDeltaRequest(req) : encodeRequest(req));
  }

  /** Writes bytes as they are, e.g. a request that does not decode. */
  sendRaw(bytes: Buffer): void {
    this.call.write(bytes);
  }

  /** The next response, or a failure after `ms`. */
  next(ms = 5000): Promise<R> {
    const r = this.queue.shift();
    if (r) return Promise.resolve(r);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`no response within ${ms} ms`));
      }, ms);
      const done = (x: R) => {
        clearTimeout(t);
        resolve(x);
      };
      this.waiters.push(done);
    });
  }

  /** Asserts that nothing arrives for `ms`. */
  async quiet(ms = 400): Promise<void> {
    const r = await this.next(ms).catch(() => undefined);
    if (r) throw new Error(`unexpected response: ${JSON.stringify(r).slice(0, 300)}`);
  }

  /** The stream's final status, or a failure after `ms`. */
  closed(ms = 5000): Promise<grpc.StatusObject> {
    if (this.status) return Promise.resolve(this.status);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`stream still open after ${ms} ms`)), ms);
      this.ended = (s) => {
        clearTimeout(t);
        resolve(s);
      };
    });
  }

  /** Stops reading, like a proxy that is stuck: the server's writes back up. */
  pause(): void {
    this.call.pause();
  }

  resume(): void {
    this.call.resume();
  }

  /** Half-closes: no more requests; the server should then end the stream with a status. */
  end(): void {
    this.call.end();
  }

  /** Responses received and not yet taken with next(). */
  drain(): R[] {
    return this.queue.splice(0);
  }

  close(): void {
    this.call.end();
    this.client.close();
  }
}

export const envoyNode = (id: string, cluster = 'default') => ({ id, cluster, user_agent_name: 'envoy', locality: {} });
export const grpcNode = (id: string) => ({ id, user_agent_name: 'gRPC Node Pure JS', locality: {} });
