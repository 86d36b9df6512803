/**
 * The floor: a bare @grpc/grpc-js server process (forked by the coordinator)
 * serving the ADS path with bytes captured from Switchyard, and no
 * control-plane logic. What the same fleet measures against it is the cost of
 * gRPC, HTTP/2 and the clients themselves, a lower bound for any control plane
 * written on grpc-js.
 */
import * as grpc from '@grpc/grpc-js';
import { envoyRoot } from '../../src/xds/cache/envoy-protos.js';
import { decodeDeltaRequest, decodeRequest } from '../../src/xds/server/wire.js';
import { type FromFloor, KEY_OF, type ToFloor, type TypeKey } from './messages.js';
import { now } from './stats.js';

const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
const pass = (b: Buffer) => b;
const send = (m: FromFloor, then?: () => void) => process.send!(m, undefined, undefined, then);

let data: Extract<ToFloor, { t: 'init' }> | undefined;
const streams = new Set<grpc.ServerDuplexStream<Buffer, Buffer>>();
let acks = 0;
let server: grpc.Server | undefined;

/**
 * Each stream gets the captured initial bytes of a type in answer to its first
 * request of that type; every later request is an ACK (or a subscription
 * change, which the floor does not follow) and only counted.
 */
function serve(delta: boolean) {
  return (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    const answered = new Set<TypeKey>();
    streams.add(call);
    const done = () => streams.delete(call);
    call.on('data', (buf: Buffer) => {
      // Decoding requests is work every server does; Switchyard decodes them the same way.
      const type = KEY_OF[(delta ? decodeDeltaRequest(buf) : decodeRequest(buf)).type_url];
      if (!type || answered.has(type)) {
        acks++;
        return;
      }
      answered.add(type);
      for (const b of data?.initial[type] ?? []) call.write(b);
    });
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('cancelled', done);
  };
}

/**
 * Writes push `index` to every open stream in one tight loop. write()'s
 * backpressure is not respected (a full stream buffers in memory): the
 * pushes are small and spaced, and `blocked` counts how often it would apply.
 */
function push(index: number): void {
  const bytes = data!.pushes[index];
  const startAt = now();
  let blocked = 0;
  for (const s of streams) if (!s.write(bytes)) blocked++;
  send({ t: 'pushed', index, streams: streams.size, startAt, endAt: now(), blocked });
}

async function listen(): Promise<void> {
  const bidi = (path: string) => ({ path, requestStream: true, responseStream: true, requestSerialize: pass, requestDeserialize: pass, responseSerialize: pass, responseDeserialize: pass });
  server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024, 'grpc.max_send_message_length': 256 * 1024 * 1024 });
  server.addService(
    { StreamAggregatedResources: bidi(`/${ADS}/StreamAggregatedResources`), DeltaAggregatedResources: bidi(`/${ADS}/DeltaAggregatedResources`) } as grpc.ServiceDefinition,
    { StreamAggregatedResources: serve(false), DeltaAggregatedResources: serve(true) },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  send({ t: 'listening', port });
}

process.on('message', (m: ToFloor) => {
  if (m.t === 'init') {
    // Advanced serialization delivers Uint8Arrays; grpc-js writes Buffers.
    const buf = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    data = {
      ...m,
      initial: Object.fromEntries(Object.entries(m.initial).map(([k, list]) => [k, list!.map(buf)])),
      pushes: m.pushes.map(buf),
    };
    // Request decoding loads the Envoy protos on first use: load them now, before the idle baseline.
    envoyRoot();
    void listen();
  } else if (m.t === 'push') push(m.index);
  else if (m.t === 'sample') {
    (globalThis as { gc?: () => void }).gc?.(); // garbage is not memory per stream
    send({ t: 'sample', heap: process.memoryUsage().heapUsed });
  }
  else if (m.t === 'stop') {
    server?.forceShutdown();
    send({ t: 'stopped', acks, streams: streams.size }, () => process.disconnect());
  }
});
process.on('disconnect', () => {
  server?.forceShutdown();
  setTimeout(() => process.exit(0), 2000).unref();
});
