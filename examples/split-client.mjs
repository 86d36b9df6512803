#!/usr/bin/env node
// A proxyless gRPC client (grpc-js-xds) that calls xds:///<host> and prints, every second, which backends answered.
//   node examples/split-client.mjs --xds localhost:18000 --host echo [--header x-canary=true] [--seconds 0]
// Each run gets its own node id (split-client-<host>-<pid>), so it shows up on its own in `switchyard proxy-status`.
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import * as protoLoader from '@grpc/proto-loader';

const { values } = parseArgs({ options: { xds: { type: 'string', default: 'localhost:18000' }, host: { type: 'string', default: 'echo' }, header: { type: 'string' }, seconds: { type: 'string', default: '0' }, rate: { type: 'string', default: '50' } } });
const nodeId = `split-client-${hostname()}-${process.pid}`;
process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
  xds_servers: [{ server_uri: values.xds, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
  node: { id: nodeId, locality: {} },
});
grpcXds.register();
const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(join(dirname(fileURLToPath(import.meta.url)), 'echo.proto'), { keepCase: true }));
const client = new pkg.switchyard.test.Echo(`xds:///${values.host}`, grpc.credentials.createInsecure());
const md = new grpc.Metadata();
if (values.header) {
  const [k, v] = values.header.split('=');
  md.set(k, v ?? '');
}

let counts = {};
const perSecond = Number(values.rate);
const tick = setInterval(() => {
  for (let i = 0; i < perSecond / 10; i++)
    client.Say({ text: 'hi' }, md, { deadline: Date.now() + 2000 }, (err, res) => {
      const k = err ? grpc.status[err.code] : res.server;
      counts[k] = (counts[k] ?? 0) + 1;
    });
}, 100);
process.stdout.write(`split-client ${nodeId} calling xds:///${values.host} via ${values.xds}, ${perSecond} calls/s\n`);
const report = setInterval(() => {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total) process.stdout.write(`${new Date().toISOString().slice(11, 19)}  ${Object.entries(counts).sort().map(([k, n]) => `${k} ${((n / total) * 100).toFixed(0)}%`).join('  ')}   (${total} calls)\n`);
  counts = {};
}, 1000);
const stop = () => {
  clearInterval(tick);
  clearInterval(report);
  client.close();
  process.exit(0);
};
if (Number(values.seconds) > 0) setTimeout(stop, Number(values.seconds) * 1000);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
