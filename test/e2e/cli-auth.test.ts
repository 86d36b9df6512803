import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { ADMIN } from '../support/auth.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

/** The real `switchyard` binary against `server`, without any token from the environment unless given. */
function cli(server: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const { SWITCHYARD_TOKEN: _t, ...base } = process.env;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'bin/switchyard.mjs'), '--server', server, ...args], {
      env: { ...base, NO_COLOR: '1', SWITCHYARD_ACTOR: 'cli-test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

describe('the switchyard CLI against AUTH_MODE=token', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp('pglite', { AUTH_MODE: 'token', ADMIN_TOKEN: ADMIN });
  });
  after(() => app?.stop());

  it('sends --token or SWITCHYARD_TOKEN, and manages tokens with switchyard token', async () => {
    const anonymous = await cli(app.base, ['get', 'services']);
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.err, /HTTP 401/);

    const created = await cli(app.base, ['--token', ADMIN, 'token', 'create', 'ci', '--role', 'editor', '--service', 'echo,web']);
    assert.equal(created.code, 0, created.err);
    const secret = /^(sy_\S+)$/m.exec(created.out)?.[1];
    assert.ok(secret, created.out);

    const list = await cli(app.base, ['token', 'list'], { SWITCHYARD_TOKEN: ADMIN });
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^[0-9a-f]{16}\s+ci\s+editor\s+services=echo,web\s+-\s+token:ADMIN_TOKEN$/m);

    const svc = JSON.stringify({ kind: 'Service', name: 'echo', spec: { protocol: 'http', port: 8080 } });
    const dir = mkdtempSync(join(tmpdir(), 'sy-cli-auth-'));
    writeFileSync(join(dir, 'svc.json'), svc);
    const applied = await cli(app.base, ['apply', '-f', join(dir, 'svc.json')], { SWITCHYARD_TOKEN: secret! });
    assert.equal(applied.code, 0, applied.err);
    const denied = await cli(app.base, ['get', 'routes'], { SWITCHYARD_TOKEN: secret! });
    assert.equal(denied.code, 1);
    assert.match(denied.err, /HTTP 403/);
    const history = await cli(app.base, ['history', '-o', 'json'], { SWITCHYARD_TOKEN: ADMIN });
    const change = JSON.parse(history.out).find((c: { name: string }) => c.name === 'echo');
    assert.deepEqual([change.actor, change.comment], ['token:ci', 'cli-test']);

    const id = /id ([0-9a-f]{16})/.exec(created.out)![1];
    assert.equal((await cli(app.base, ['--token', ADMIN, 'token', 'delete', id])).code, 0);
    assert.equal((await cli(app.base, ['get', 'services'], { SWITCHYARD_TOKEN: secret! })).code, 1);
  });
});
