import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { startTestApp, type TestApp } from '../support/app.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs the real `switchyard` binary (bin/switchyard.mjs) as a child process. */
function cli(server: string, args: string[], opts: { stdin?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/switchyard.mjs'), '--server', server, ...args], {
      env: { ...process.env, NO_COLOR: '1', SWITCHYARD_ACTOR: 'cli-test' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    child.stdin.end(opts.stdin ?? '');
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

const ID = 'prod/orders/checkout.yaml';
const PATH = `/api/v1/configs/${ID}`;
const content = (flag: boolean, pool: number) => `feature:\n  newCheckout: ${flag}\npool:\n  size: ${pool}\n`;
const V1 = content(false, 10);
const V2 = content(false, 20);
const CANDIDATE = content(true, 20);

describe('switchyard config, as a child process against a real control plane', () => {
  let app: TestApp;
  let dir: string;
  let run: (args: string[], opts?: { stdin?: string }) => Promise<Run>;
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  /** One long poll by an instance holding `known` (it answers once the instance should get something else): the instance is then on the config's instances board. */
  const watchOnce = (instanceId: string, labels: string, known = '') =>
    app.http('GET', `/api/v1/configs/watch?namespace=prod&group=orders&names=checkout.yaml&instanceId=${instanceId}&labels=${encodeURIComponent(labels)}&known=${known}&timeoutMs=${known ? 5000 : 0}`);

  before(async () => {
    app = await startTestApp('pglite');
    run = (args, opts) => cli(app.base, args, opts);
    dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-config-'));
  });

  after(async () => {
    await app?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('apply: created, then unchanged, then updated; --if-version is If-Match; the format comes from the extension', async () => {
    const f = file('checkout.yaml', V1);
    const created = await run(['config', 'apply', ID, '-f', f]);
    assert.equal(created.code, 0, created.err);
    assert.equal(created.out, `created ${ID} revision 1\n`);
    assert.equal((await run(['config', 'apply', ID, '-f', f])).out, `unchanged ${ID} revision 1\n`);
    writeFileSync(f, V2);
    const updated = await run(['config', 'apply', ID, '-f', f]);
    assert.equal(updated.out, `updated ${ID} revision 2\n`, updated.err);
    const [stale, props, notes] = await Promise.all([
      run(['config', 'apply', ID, '-f', f, '--if-version', '1']),
      // Stdin takes the config name's extension; --format overrides.
      run(['config', 'apply', 'prod/orders/app.properties', '-f', '-'], { stdin: 'pool.size=10\n' }),
      run(['config', 'apply', 'prod/orders/notes', '-f', file('notes.json', '{'), '--format', 'text']),
    ]);
    assert.equal(stale.code, 1);
    assert.match(stale.err, /HTTP 412/);
    assert.equal(props.out, 'created prod/orders/app.properties revision 1\n', props.err);
    assert.equal((await app.http('GET', '/api/v1/configs/prod/orders/app.properties')).body.spec.format, 'properties');
    assert.equal(notes.code, 0, notes.err);
    assert.equal((await app.http('GET', '/api/v1/configs/prod/orders/notes')).body.spec.format, 'text');
  });

  it('apply: bad content names spec.content and its line; bad arguments exit 2', async () => {
    const x = file('x.yaml', 'a: 1\n');
    const [bad, json, noName, format, missing, noFile] = await Promise.all([
      run(['config', 'apply', ID, '-f', file('bad.yaml', 'feature:\n  newCheckout: true\npool:\n  size: [10\n')]),
      run(['config', 'apply', 'prod/orders/limits.json', '-f', file('limits.json', '{\n  "max": 10,\n  "min": }\n')]),
      run(['config', 'apply', 'prod/orders', '-f', x]),
      run(['config', 'apply', ID, '-f', x, '--format', 'toml']),
      run(['config', 'apply', ID, '-f', join(dir, 'nope.yaml')]),
      run(['config', 'apply', ID]),
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^error: validation failed \(HTTP 400\):$/m);
    assert.match(bad.err, /^ {2}spec\.content: line \d+: /m);
    assert.equal((await app.http('GET', PATH)).body.version, 2, 'nothing written');
    assert.equal(json.code, 1);
    assert.match(json.err, /^ {2}spec\.content: line 3: /m);
    assert.equal(noName.code, 2);
    assert.match(noName.err, /"prod\/orders": a config is namespace\/group\/name/);
    assert.equal(format.code, 2);
    assert.match(format.err, /--format toml: one of yaml, json, properties, text/);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope\.yaml: no such file/);
    assert.equal(noFile.code, 2, 'no -f');
  });

  it('get: a list, one config as a table and as YAML, and --content raw (also at a revision)', async () => {
    const [list, staging, groupOnly, one, yaml, raw, raw1, none] = await Promise.all([
      run(['config', 'get', '-n', 'prod', '-g', 'orders']),
      run(['config', 'get', '-n', 'staging']),
      run(['config', 'get', '-g', 'orders']),
      run(['config', 'get', ID]),
      run(['config', 'get', ID, '-o', 'yaml']),
      run(['config', 'get', ID, '--content']),
      run(['config', 'get', ID, '--content', '--revision', '1']),
      run(['config', 'get', 'prod/orders/none.yaml']),
    ]);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^NAMESPACE\s+GROUP\s+NAME\s+FORMAT\s+REVISION\s+GRAY\s+AGE$/m);
    assert.match(list.out, /^prod\s+orders\s+app\.properties\s+properties\s+1\s+-\s+\d+s$/m);
    assert.match(list.out, /^prod\s+orders\s+checkout\.yaml\s+yaml\s+2\s+-\s+\d+s$/m);
    assert.match(staging.out, /^No Config resources found\.$/m);
    assert.equal(groupOnly.code, 2, '--group needs --namespace');
    assert.equal(one.out.trim().split('\n').length, 2, one.out);
    const y = YAML.parse(yaml.out);
    assert.deepEqual([y.namespace, y.group, y.name, y.version, y.spec.content], ['prod', 'orders', 'checkout.yaml', 2, V2]);
    assert.equal(raw.out, V2);
    assert.equal(raw1.out, V1);
    assert.equal(none.code, 1);
    assert.match(none.err, /HTTP 404/);
  });

  it('history and diff', async () => {
    const [h, d, same, bad, noFrom] = await Promise.all([
      run(['config', 'history', ID]),
      run(['config', 'diff', ID, '--from', '1']),
      run(['config', 'diff', ID, '--from', '1', '--to', '1']),
      run(['config', 'diff', ID, '--from', 'x']),
      run(['config', 'diff', ID]),
    ]);
    assert.equal(h.code, 0, h.err);
    assert.match(h.out, /^REVISION\s+OP\s+ACTOR\s+AGE\s+FORMAT\s+SIZE\s+GRAY$/m);
    assert.match(h.out, new RegExp(`^2\\s+update\\s+cli-test\\s+\\d+s\\s+yaml\\s+${Buffer.byteLength(V2)}\\s+-$`, 'm'));
    assert.match(h.out, new RegExp(`^1\\s+create\\s+cli-test\\s+\\d+s\\s+yaml\\s+${Buffer.byteLength(V1)}\\s+-$`, 'm'));
    assert.equal(d.code, 0, d.err);
    assert.match(d.out, /^--- checkout\.yaml@1\tyaml\n\+\+\+ checkout\.yaml@2\tyaml\n@@ /);
    assert.match(d.out, /^- {2}size: 10$/m);
    assert.match(d.out, /^\+ {2}size: 20$/m);
    assert.doesNotMatch(same.out, /^@@/m);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--from <n>.*must be a revision/);
    assert.equal(noFrom.code, 2, 'no --from');
  });

  it('rollback --to restores a revision\'s content as a new revision', async () => {
    const rb = await run(['config', 'rollback', ID, '--to', '1']);
    assert.equal(rb.code, 0, rb.err);
    assert.equal(rb.out, `rolled back ${ID} to revision 1: revision 3\n`);
    const [raw, gone] = await Promise.all([run(['config', 'get', ID, '--content']), run(['config', 'rollback', ID, '--to', '9'])]);
    assert.equal(raw.out, V1);
    assert.equal(gone.code, 1);
    assert.match(gone.err, /has no revision 9 \(HTTP 404\)/);
  });

  it('gray by --labels, then --percent, then both; instances show who got what; promote', async () => {
    const empty = await run(['config', 'instances', ID]);
    assert.equal(empty.code, 0, empty.err);
    assert.equal(empty.out, 'INSTANCE   TRANSPORT   DELIVERED   APPLIED   GRAY   ERROR\n0 current, 0 gray, 0 behind, 0 failed\n');

    const byLabels = await run(['config', 'gray', ID, '-f', file('candidate.yaml', CANDIDATE), '--labels', 'env=gray']);
    assert.equal(byLabels.code, 0, byLabels.err);
    assert.equal(byLabels.out, `gray ${ID} revision 4 to env=gray\n`);
    // Holding revision 3, the gray instance is answered once the watchers have seen the gray release.
    assert.deepEqual((await watchOnce('pod-gray', 'env=gray', 'checkout.yaml:3')).body.updates.map((u: any) => [u.revision, u.gray]), [[4, true]]);
    assert.equal((await watchOnce('pod-prod', 'env=prod')).status, 200);
    assert.equal((await app.http('POST', `${PATH}/ack`, { instanceId: 'pod-gray', revision: 4 })).status, 200);
    const [inst, wide] = await Promise.all([run(['config', 'instances', ID]), run(['config', 'instances', ID, '-o', 'wide'])]);
    assert.match(inst.out, /^INSTANCE\s+TRANSPORT\s+DELIVERED\s+APPLIED\s+GRAY\s+ERROR$/m);
    assert.match(inst.out, /^pod-gray\s+long-poll\s+4\s+4\s+yes\s+-$/m);
    assert.match(inst.out, /^pod-prod\s+long-poll\s+3\s+-\s+no\s+-$/m);
    assert.match(inst.out, /^0 current, 1 gray, 1 behind, 0 failed$/m);
    assert.match(wide.out, /^pod-gray\s+.*\s+env=gray\s+(yes|no)\s+\d+s$/m);

    // Without -f the running candidate stays: only the target changes.
    const byPercent = await run(['config', 'gray', ID, '--percent', '30']);
    assert.equal(byPercent.out, `gray ${ID} revision 5 to 30%\n`, byPercent.err);
    const both = await run(['config', 'gray', ID, '--labels', 'env=gray', '--percent', '50']);
    assert.equal(both.out, `gray ${ID} revision 6 to env=gray and 50%\n`, both.err);
    const cfg = (await app.http('GET', PATH)).body;
    assert.deepEqual(cfg.spec.gray, { content: CANDIDATE, target: { labels: 'env=gray', percent: 50 } });
    assert.equal(cfg.spec.content, V1);
    const [got, history] = await Promise.all([run(['config', 'get', ID]), run(['config', 'history', ID])]);
    assert.match(got.out, /^prod\s+orders\s+checkout\.yaml\s+yaml\s+6\s+env=gray and 50%\s+\d+s$/m);
    assert.match(history.out, /^5\s+update\s+cli-test\s+\d+s\s+yaml\s+\d+\s+30%$/m);

    const promoted = await run(['config', 'promote', ID]);
    assert.equal(promoted.code, 0, promoted.err);
    assert.equal(promoted.out, `promoted the gray release of ${ID}: revision 7\n`);
    const [raw, again] = await Promise.all([run(['config', 'get', ID, '--content']), run(['config', 'promote', ID])]);
    assert.equal(raw.out, CANDIDATE);
    assert.equal(again.code, 1);
    assert.match(again.err, /has no gray release to promote \(HTTP 409\)/);
  });

  it('gray --abort ends a gray release; with none it is the 409; bad gray arguments exit 2', async () => {
    assert.equal((await run(['config', 'gray', ID, '-f', '-', '--percent', '10'], { stdin: V2 })).code, 0);
    const aborted = await run(['config', 'gray', ID, '--abort']);
    assert.equal(aborted.code, 0, aborted.err);
    assert.equal(aborted.out, `aborted the gray release of ${ID}: revision 9\n`);
    assert.equal((await app.http('GET', PATH)).body.spec.gray, undefined);
    const cases: [string[], RegExp][] = [
      [['--percent', '101'], /--percent <n>.*must be an integer from 0 to 100/],
      [['-f', join(dir, 'candidate.yaml')], /needs a target: --labels, --percent or both/],
      [['--abort', '--percent', '3'], /--abort takes no -f, --labels or --percent/],
      [['--labels', 'env=gray'], /has no gray release: give the candidate content with -f/],
    ];
    const [none, ...usage] = await Promise.all([run(['config', 'gray', ID, '--abort']), ...cases.map(([args]) => run(['config', 'gray', ID, ...args]))]);
    assert.equal(none.code, 1);
    assert.equal(none.err, `error: Config ${ID} has no gray release to abort (HTTP 409)\n`);
    usage.forEach((r, i) => {
      assert.equal(r.code, 2, `${cases[i][0].join(' ')}: ${r.err}`);
      assert.match(r.err, cases[i][1]);
    });
  });

  it('delete, and the generic get of a config by namespace/group/name', async () => {
    const [generic, d] = await Promise.all([run(['get', 'config', ID]), run(['config', 'delete', 'prod/orders/app.properties'])]);
    assert.match(generic.out, /^prod\s+orders\s+checkout\.yaml\s+yaml\s+9\s+/m);
    assert.equal(d.out, 'deleted prod/orders/app.properties\n', d.err);
    assert.equal((await app.http('GET', '/api/v1/configs/prod/orders/app.properties')).status, 404);
  });
});
