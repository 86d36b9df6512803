#!/usr/bin/env node
// A gRPC Echo backend that answers with its name: node examples/echo-backend.mjs --name v1 --port 50061
// Optional: --fail 0.2 fails that share of calls with UNAVAILABLE (to watch a canary get rolled back).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const { values } = parseArgs({ options: { name: { type: 'string', default: 'echo' }, port: { type: 'string', default: '0' }, fail: { type: 'string', default: '0' } } });
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(join(dirname(fileURLToPath(import.meta.url)), 'echo.proto'), { keepCase: true }));
const fail = Number(values.fail);
const server = new grpc.Server();
server.addService(pkg.switchyard.test.Echo.service, {
  Say: (call, cb) => (Math.random() < fail ? cb({ code: grpc.status.UNAVAILABLE, details: `${values.name} fails on purpose` }) : cb(null, { server: values.name, text: call.request.text })),
});
server.bindAsync(`127.0.0.1:${values.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`echo-backend: ${err.message}\n`);
    process.exit(1);
  }
  // The line the demo waits for.
  process.stdout.write(`echo-backend ${values.name} listening on 127.0.0.1:${port}\n`);
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
