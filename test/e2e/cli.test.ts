import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { type EchoBackend, startEchoBackend, tally } from '../support/echo-backends.js';
import { trackPriorityRetentionTimers } from '../support/priority-timers.js';
import { eventually, nackCount, useXds, xdsClient } from '../support/xds-client.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

/** A port nothing listens on. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs the real `switchyard` binary (bin/switchyard.mjs) as a child process. */
function cli(server: string, args: string[], opts: { stdin?: string; env?: Record<string, string>; onOut?: (soFar: string) => void } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/switchyard.mjs'), '--server', server, ...args], {
      env: { ...process.env, NO_COLOR: '1', SWITCHYARD_ACTOR: 'cli-test', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => {
      out += b;
      opts.onOut?.(out);
    });
    child.stderr.on('data', (b) => (err += b));
    child.stdin.end(opts.stdin ?? '');
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

describe('the switchyard CLI, as a child process against a real control plane', () => {
  let app: TestApp;
  let run: (args: string[], opts?: { stdin?: string }) => Promise<Run>;
  let dir: string;
  let v1: EchoBackend, v2: EchoBackend;
  let client: grpc.Client | undefined;
  // The rollouts below remove clusters the client used: grpc-js-xds would hold this process for 15 minutes after.
  const retention = trackPriorityRetentionTimers();

  before(async () => {
    app = await startTestApp('pglite', { XDS_DEBOUNCE_QUIET_MS: '20', ROLLOUT_TICK_MS: '100' });
    run = (args, opts) => cli(app.base, args, opts);
    dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    [v1, v2] = await Promise.all([startEchoBackend('v1'), startEchoBackend('v2')]);
    const quick = readFileSync(join(PACKAGE_ROOT, 'examples/quick-start.yaml'), 'utf8').replace('port: 50061', `port: ${v1.port}`).replace('port: 50062', `port: ${v2.port}`);
    writeFileSync(join(dir, 'quick.yaml'), quick);
  });

  after(async () => {
    client?.close();
    await app?.stop();
    await Promise.all([v1, v2].map((b) => b?.stop()));
    retention.release();
  });

  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('apply: created, then unchanged; --dry-run says configured and writes nothing', async () => {
    const first = await run(['apply', '-f', join(dir, 'quick.yaml')]);
    assert.equal(first.code, 0, first.err);
    assert.equal(first.out, 'service/echo created\nendpoint/echo/echo-v1 created\nendpoint/echo/echo-v2 created\nroute/echo created\nlistener/edge created\n');
    const again = await run(['apply', '-f', join(dir, 'quick.yaml')]);
    assert.match(again.out, /^service\/echo unchanged$/m);
    const edited = readFileSync(join(dir, 'quick.yaml'), 'utf8').replace('weight: 90', 'weight: 50').replace('weight: 10}', 'weight: 50}');
    const dry = await run(['apply', '--dry-run', '-f', '-'], { stdin: edited });
    assert.match(dry.out, /^route\/echo configured \(dry run\)$/m);
    assert.equal((await app.http('GET', '/api/v1/routes/echo')).body.version, 1, 'the dry run wrote nothing');
    file('edited.yaml', edited);
  });

  it('diff: exit 0 and nothing when the server matches, exit 1 and a unified diff when it does not', async () => {
    const same = await run(['diff', '-f', join(dir, 'quick.yaml')]);
    assert.equal(same.code, 0, same.err + same.out);
    assert.equal(same.out, '');
    const changed = await run(['diff', '-f', join(dir, 'edited.yaml')]);
    assert.equal(changed.code, 1);
    assert.match(changed.out, /^--- live\/routes\/echo\tversion 1$/m);
    assert.match(changed.out, /^-\s+weight: 90$/m);
    assert.match(changed.out, /^\+\s+weight: 50$/m);
    const missing = await run(['diff', '-f', '-'], { stdin: 'kind: Policy\nname: new-retry\nspec: {type: retry, retry: {attempts: 1}}\n' });
    assert.equal(missing.code, 1);
    assert.match(missing.out, /^\+kind: Policy$/m);
  });

  it('get: table, wide, yaml and json', async () => {
    const t = await run(['get', 'routes']);
    assert.equal(t.code, 0, t.err);
    assert.match(t.out, /^NAME\s+HOSTS\s+RULES\s+BACKENDS \(last rule\)\s+AGE$/m);
    assert.match(t.out, /^echo\s+echo\s+2\s+echo\/v1:90 echo\/v2:10\s+\d+s$/m);
    const wide = await run(['get', 'svc', '-o', 'wide']);
    assert.match(wide.out, /^NAME\s+PROTOCOL\s+PORT\s+SUBSETS\s+POLICIES\s+AGE\s+VERSION\s+ISSUES$/m);
    const yaml = YAML.parse((await run(['get', 'route', 'echo', '-o', 'yaml'])).out);
    assert.equal(yaml.spec.rules[1].backends[0].weight, 90);
    const json = JSON.parse((await run(['get', 'endpoints', '-s', 'echo', '-o', 'json'])).out);
    assert.deepEqual(json.map((e: any) => e.name), ['echo-v1', 'echo-v2']);
    const sel = await run(['get', 'endpoints', '-s', 'echo', '-l', 'version=v2']);
    assert.match(sel.out, /echo-v2/);
    assert.doesNotMatch(sel.out, /echo-v1/);
  });

  it('describe: spec, conditions, referrers, and a service\'s endpoints with their health', async () => {
    const d = await run(['describe', 'service', 'echo']);
    assert.equal(d.code, 0, d.err);
    assert.match(d.out, /^Service echo\s+version 1/m);
    assert.match(d.out, /^Referred to by: route\/echo$/m);
    assert.match(d.out, /^  echo-v1\s+127\.0\.0\.1:\d+\s+unknown\s+-\s+registry$/m);
  });

  it('errors are readable, with field paths, and exit non-zero; an unreachable server is one line', async () => {
    const bad = await run(['apply', '-f', '-'], { stdin: 'kind: Service\nname: Bad_Name\nspec: {protocol: grpc, port: 70000}\n' });
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^error: validation failed \(HTTP 400\):$/m);
    assert.match(bad.err, /^  resources\[0\]\.spec\.port: must be <= 65535$/m);
    assert.match(bad.err, /^  resources\[0\]\.name: must be a DNS-1123 label/m);
    const closed = await freePort();
    const down = await cli(`http://127.0.0.1:${closed}`, ['get', 'services']);
    assert.equal(down.code, 1);
    assert.equal(down.err, `error: cannot reach Switchyard at http://127.0.0.1:${closed}: ECONNREFUSED\n`);
    const usage = await run(['get']);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /missing required argument 'kind'/);
    const unknown = await run(['get', 'gizmos']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown kind "gizmos"/);
  });

  it('proxy-status shows a real grpc-js-xds client SYNCED on every type; proxy-config prints what it was sent', async () => {
    useXds(app.xdsPort, 'cli-proxy');
    client = xdsClient('echo');
    await eventually(async () => assert.ok(Object.keys(await tally(client!, 20)).every((k) => k === 'v1' || k === 'v2')));
    const ps = await eventually(async () => {
      const r = await run(['proxy-status']);
      assert.match(r.out, /^cli-proxy\s+proxyless\s+proxyless\s+sotw\s+\S+\s+SYNCED\s+SYNCED\s+SYNCED\s+SYNCED$/m, r.out);
      return r;
    });
    assert.match(ps.out, /^NAME\s+GROUP\s+KIND\s+PROTOCOL\s+REPLICA\s+CDS\s+EDS\s+LDS\s+RDS$/m);
    const cfg = YAML.parse((await run(['proxy-config', 'cli-proxy', '--type', 'cds'])).out);
    assert.deepEqual(cfg.configs.CDS.resources.map((r: any) => r.name).sort(), ['echo/v1', 'echo/v2']);
    assert.equal(cfg.configs.LDS, undefined);
  });

  it('preview shows, per node group, what an apply would add, change or remove in xDS', async () => {
    const doc = readFileSync(join(dir, 'edited.yaml'), 'utf8');
    const p = await run(['preview', '-f', '-'], { stdin: doc });
    assert.equal(p.code, 0, p.err);
    assert.match(p.out, /^route\/echo configured \(dry run\)$/m);
    assert.match(p.out, /^endpoint\/echo\/echo-v1 unchanged \(dry run\)$/m);
    assert.match(p.out, /^proxyless$/m);
    assert.match(p.out, /^  ~ RDS echo$/m);
    assert.match(p.out, /^envoy\/default$/m);
    assert.match(p.out, /^  ~ RDS edge$/m);
    const gone = await run(['preview', '-f', '-'], { stdin: doc.replace(/- \{service: echo, subset: v2, weight: 50\}/, '').replace('backends: [{service: echo, subset: v2, weight: 100}]', 'backends: [{service: echo, subset: v1, weight: 100}]') });
    assert.match(gone.out, /^  - CDS echo\/v2$/m);
    assert.equal((await app.http('GET', '/api/v1/routes/echo')).body.version, 1, 'nothing written');
  });

  it('rollout status --watch follows a real rollout and exits 0 on Succeeded; 1 once one is aborted', async () => {
    const ro = file('ro.yaml', 'kind: Rollout\nname: echo-v2\nspec: {service: echo, stable: v1, canary: v2, routes: [echo], steps: [{setWeight: 50}, {pause: {}}, {setWeight: 80}]}\n');
    assert.equal((await run(['apply', '-f', ro])).code, 0);
    await eventually(async () => assert.equal((await app.http('GET', '/api/v1/rollouts/echo-v2')).body.status.rollout?.phase, 'Paused'));
    // Promote only once the watcher has shown the pause: a child process takes a while to start.
    let sawPause!: () => void;
    const paused = new Promise<void>((r) => (sawPause = r));
    const watching = cli(app.base, ['rollout', 'status', 'echo-v2', '--watch', '--interval', '100'], { onOut: (o) => /^Phase:\s+Paused/m.test(o) && sawPause() });
    await Promise.race([paused, watching]);
    const promote = await run(['rollout', 'promote', 'echo-v2']);
    assert.equal(promote.code, 0, promote.err);
    assert.match(promote.out, /rollout\/echo-v2 promote requested/);
    const w = await watching;
    assert.equal(w.code, 0, w.err);
    assert.match(w.out, /^Phase:\s+Paused/m);
    assert.match(w.out, /^Phase:\s+Succeeded/m);
    assert.match(w.out, /^Steps:\s+\[#+\] 3\/3$/m);
    assert.match(w.out, /^Weights: v1 0%\s+v2 100%/m);
    const h = await run(['rollout', 'history', 'echo-v2']);
    assert.match(h.out, /Promoting\s+3\s+every step done/);
    // The next rollout, aborted: status exits 1.
    assert.equal((await run(['apply', '-f', '-'], { stdin: 'kind: Rollout\nname: back\nspec: {service: echo, stable: v2, canary: v1, routes: [echo], steps: [{setWeight: 20}, {pause: {}}]}\n' })).code, 0);
    await eventually(async () => assert.equal((await app.http('GET', '/api/v1/rollouts/back')).body.status.rollout?.phase, 'Paused'));
    assert.equal((await run(['rollout', 'abort', 'back'])).code, 0);
    const ended = await run(['rollout', 'status', 'back', '--watch', '--interval', '100']);
    assert.equal(ended.code, 1);
    assert.match(ended.out, /^Phase:\s+Aborted/m);
    const refused = await run(['rollout', 'pause', 'back']);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /cannot pause Rollout back: it is Aborted \(pause applies when Progressing\) \(HTTP 409\)/);
  });

  it('history and rollback: the change log with actors; rollback to a revision restores the route', async () => {
    const h = await run(['history', 'route', 'echo']);
    assert.equal(h.code, 0, h.err);
    assert.match(h.out, /^REVISION\s+AT\s+ACTOR\s+OP\s+KIND\s+NAME\s+VERSION$/m);
    assert.match(h.out, /^\d+\s+\S+\s+cli-test\s+create\s+Route\s+echo\s+1$/m);
    assert.match(h.out, /rollout\/echo-v2\s+update\s+Route\s+echo/);
    const created = Number(/^(\d+)\s+\S+\s+cli-test\s+create\s+Route\s+echo\s+1$/m.exec(h.out)![1]);
    const rb = await run(['rollback', '--to-revision', String(created), 'route', 'echo']);
    assert.equal(rb.code, 0, rb.err);
    assert.match(rb.out, /^route\/echo restored$/m);
    const rules = (await app.http('GET', '/api/v1/routes/echo')).body.spec.rules;
    assert.deepEqual(rules[1].backends.map((b: any) => b.weight), [90, 10], 'the 90/10 split of the first version');
  });

  it('export prints every resource as YAML that applies again unchanged', async () => {
    const e = await run(['export']);
    assert.equal(e.code, 0, e.err);
    const docs = YAML.parseAllDocuments(e.out).map((d) => d.toJS());
    assert.deepEqual([...new Set(docs.map((d) => d.kind))], ['Service', 'Endpoint', 'Route', 'Listener', 'Rollout']);
    assert.ok(docs.every((d) => d.version === undefined && d.status === undefined), 'no server-owned fields');
    const re = await run(['apply', '-f', '-'], { stdin: e.out });
    assert.equal(re.code, 0, re.err);
    assert.ok(re.out.trim().split('\n').every((l) => l.endsWith(' unchanged')), re.out);
  });

  it('register, heartbeat and drain an endpoint', async () => {
    const r = await run(['register', 'echo', '--address', '127.0.0.9', '--port', '7000', '--name', 'hb-1', '--label', 'version=v1', '--ttl', '30']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /endpoint\/echo\/hb-1 registered \(heartbeat every < 30s/);
    assert.match((await run(['heartbeat', 'echo', 'hb-1'])).out, /renewed \(ttl \d+s\)/);
    assert.equal((await run(['drain', 'echo', 'echo-v2'])).code, 0);
    assert.equal((await app.http('GET', '/api/v1/services/echo/endpoints/echo-v2')).body.spec.health, 'draining');
    const bad = await run(['register', 'echo', '--address', '127.0.0.9', '--port', 'x']);
    assert.equal(bad.code, 2);
  });

  it('version, completion', async () => {
    const v = await run(['version']);
    assert.match(v.out, /^Client: switchyard \d+\.\d+\.\d+/m);
    assert.match(v.out, /^Server: switchyard \d+\.\d+\.\d+ \(node v\d+/m);
    assert.match((await run(['completion', 'bash'])).out, /complete -F _switchyard switchyard/);
    assert.match((await run(['completion', 'zsh'])).out, /compdef _switchyard switchyard/);
  });

  it('demo starts two backends, applies the quick start, and prints the live split', async () => {
    const d = await run(['demo', '--xds', `127.0.0.1:${app.xdsPort}`, '--seconds', '4']);
    assert.equal(d.code, 0, d.err);
    assert.match(d.out, /backends v1 on :\d+, v2 on :\d+; applied the quick start/);
    assert.match(d.out, /^\d\d:\d\d:\d\d\s+v1 \d+%\s+v2 \d+%/m);
    assert.equal(await nackCount(app), 0);
  });
});
