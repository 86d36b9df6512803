import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/common/paths.js';
import { request } from './app.js';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The control plane as its own process (build/src/main.js), on ports fixed
 * at creation so that a restart comes back where its clients look for it.
 */
export class ControlPlaneProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;

  private constructor(
    readonly port: number,
    readonly grpcPort: number,
    readonly xdsPort: number,
    private readonly env: Record<string, string>,
  ) {}

  static async create(env: Record<string, string>): Promise<ControlPlaneProcess> {
    return new ControlPlaneProcess(await freePort(), await freePort(), await freePort(), env);
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The running process's id (to read its memory from /proc), if started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether the process is running (not exited or killed). */
  get alive(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get grpc(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  /** Starts it and waits until /ready says so (a fresh embedded database on disk takes a while on a loaded machine). */
  async start(timeoutMs = 30_000): Promise<void> {
    const { DATABASE_URL: _d, ETCD_ENDPOINTS: _e, ...base } = process.env;
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'build/src/main.js')], {
      env: { ...base, HOST: '127.0.0.1', PORT: String(this.port), GRPC_PORT: String(this.grpcPort), XDS_PORT: String(this.xdsPort), LOG_LEVEL: 'error', ...this.env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.child = child;
    this.exited = new Promise((r) => child.on('exit', () => r()));
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await request(this.base, 'GET', '/ready').catch(() => undefined);
      if (r?.status === 200) return;
      if (child.exitCode !== null) throw new Error(`control plane exited with ${child.exitCode}`);
      if (Date.now() > end) throw new Error('control plane never became ready');
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill(signal);
    await this.exited;
  }

  http(method: string, path: string, body?: unknown) {
    return request(this.base, method, path, body);
  }
}
