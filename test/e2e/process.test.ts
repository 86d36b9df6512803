import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { request } from '../support/app.js';
import { echoService } from '../support/fixtures.js';

const MAIN = join(PACKAGE_ROOT, 'build/src/main.js');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Every process started here, killed after the suite whatever happened: a live child keeps the test process alive. */
const live: ReturnType<typeof spawn>[] = [];

function run(env: Record<string, string>): Proc {
  const { DATABASE_URL: _drop, ...base } = process.env;
  const child = spawn(process.execPath, [MAIN], { env: { ...base, LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitReady(base: string, p: Proc): Promise<void> {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await request(base, 'GET', '/ready')).status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (p.child.exitCode !== null) throw new Error(`exited early: ${p.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready: ${p.output()}`);
}

describe('the switchyard process on the embedded default', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-proc-'));
  after(() => {
    for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts with no DATABASE_URL, keeps data across a graceful restart, and refuses a second process on the same data', async () => {
    const [port, grpcPort] = [await freePort(), await freePort()];
    const env = { PORT: String(port), GRPC_PORT: String(grpcPort), XDS_PORT: String(await freePort()), DATA_DIR: join(dir, 'data') };
    const base = `http://127.0.0.1:${port}`;
    const first = run(env);
    await waitReady(base, first);
    assert.equal((await request(base, 'POST', '/api/v1/services', echoService())).status, 201);

    const second = run({ ...env, PORT: String(await freePort()), GRPC_PORT: String(await freePort()), XDS_PORT: String(await freePort()) });
    assert.equal(await second.exited, 1);
    assert.match(second.output(), /data directory is in use by process \d+/);

    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.output());
    assert.match(first.output(), /SIGTERM received, shutting down/);

    const again = run(env);
    await waitReady(base, again);
    const svc = await request(base, 'GET', '/api/v1/services/echo');
    assert.equal(svc.status, 200, 'data survived the restart');
    assert.equal(svc.body.version, 1);
    again.child.kill('SIGINT');
    assert.equal(await again.exited, 0);
  });

  it('refuses bad configuration with a message naming the variable', async () => {
    const p = run({ PORT: 'eighty', LOG_LEVEL: 'loud', DATA_DIR: join(dir, 'x') });
    assert.equal(await p.exited, 2);
    assert.match(p.output(), /PORT="eighty": must be an integer/);
    assert.match(p.output(), /LOG_LEVEL="loud": must be one of/);
  });

  it('exits with a clear message when the database cannot be reached', async () => {
    const p = run({ PORT: String(await freePort()), GRPC_PORT: String(await freePort()), XDS_PORT: String(await freePort()), DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    assert.equal(await p.exited, 1);
    assert.match(p.output(), /failed to start: .*ECONNREFUSED/);
  });
});
