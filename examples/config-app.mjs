#!/usr/bin/env node
// An app that reloads a feature toggle live from the Switchyard config centre.
//
//   node examples/config-app.mjs --name checkout.yaml --instance pod-1 --label env=gray
//
// It watches prod/shop/<name> (a YAML document like `feature: {newCheckout: true}`),
// serves the toggle on http://127.0.0.1:<port>/ , and prints one JSON line per event,
// so a person can read it and a test can follow it. It keeps a disk cache, so with
// the control plane down it starts on the last config it had.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { ConfigClient, registerInstance } from 'switchyard/client';

const { values: a } = parseArgs({
  options: {
    servers: { type: 'string', default: process.env.SWITCHYARD_GRPC ?? '127.0.0.1:9090' },
    transport: { type: 'string', default: 'grpc' },
    namespace: { type: 'string', default: 'prod' },
    group: { type: 'string', default: 'shop' },
    name: { type: 'string', default: 'checkout.yaml' },
    instance: { type: 'string', default: `config-app-${process.pid}` },
    label: { type: 'string', multiple: true, default: [] },
    cache: { type: 'string' },
    port: { type: 'string', default: '0' },
    // Register this app as an endpoint of a service (heartbeats; deregisters on SIGTERM).
    register: { type: 'string' },
    api: { type: 'string', default: 'http://127.0.0.1:8080' },
  },
});
const labels = Object.fromEntries(a.label.map((l) => l.split('=')));
const log = (event, fields = {}) => console.log(JSON.stringify({ event, instance: a.instance, ...fields }));

let toggle = false;
const client = new ConfigClient({
  servers: a.servers.split(','),
  transport: a.transport,
  namespace: a.namespace,
  group: a.group,
  names: [a.name],
  instanceId: a.instance,
  labels,
  cacheDir: a.cache,
  backoff: { initialMs: 100, maxMs: 1000 },
  startTimeoutMs: 3000,
});
client.on('connected', (server) => log('connected', { server }));
client.on('disconnected', (e) => log('disconnected', { reason: e.message }));
client.watch((name, now) => {
  if (!now) return log('deleted', { name });
  const doc = now.parsed() ?? {};
  // A config the app cannot use is refused: the acknowledgement carries the reason.
  if (typeof doc.feature?.newCheckout !== 'boolean') throw new Error('feature.newCheckout must be true or false');
  toggle = doc.feature.newCheckout;
  log('applied', { name, revision: now.revision, gray: now.gray, newCheckout: toggle });
});

await client.start();
const held = client.get(a.name);
if (held) {
  toggle = held.parsed()?.feature?.newCheckout ?? toggle;
  log('started', { revision: held.revision, fromCache: held.fromCache, newCheckout: toggle });
} else log('started', { revision: 0, fromCache: false, newCheckout: toggle });

const server = createServer((_req, res) => res.end(JSON.stringify({ newCheckout: toggle, revision: client.get(a.name)?.revision ?? 0 })));
server.listen(Number(a.port), '127.0.0.1', async () => {
  const port = server.address().port;
  log('listening', { port });
  if (a.register) {
    const r = await registerInstance({ server: a.api, service: a.register, name: a.instance, address: '127.0.0.1', port, labels, ttlSeconds: 5 });
    log('registered', { service: r.service, name: r.name });
  }
});
process.once('SIGTERM', () => void client.close().then(() => server.close()));
