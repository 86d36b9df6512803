import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PACKAGE_ROOT } from '../../src/common/paths.js';

/** One JSON line the example app printed, with when this process read it. */
export interface AppEvent {
  event: string;
  at: number;
  [k: string]: any;
}

/** examples/config-app.mjs as a child process: the real client library in a real app. */
export class ConfigApp {
  readonly events: AppEvent[] = [];
  private readonly exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly instance: string,
  ) {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      try {
        this.events.push({ ...JSON.parse(line), at: Date.now() });
      } catch {
        /* not ours */
      }
    });
    this.exited = new Promise((r) => child.on('exit', () => r()));
  }

  static start(args: { servers: string[]; instance: string; transport?: 'grpc' | 'http'; labels?: Record<string, string>; cache?: string; name?: string }): ConfigApp {
    const argv = [join(PACKAGE_ROOT, 'examples/config-app.mjs'), '--servers', args.servers.join(','), '--instance', args.instance, '--transport', args.transport ?? 'grpc', '--name', args.name ?? 'checkout.yaml'];
    for (const [k, v] of Object.entries(args.labels ?? {})) argv.push('--label', `${k}=${v}`);
    if (args.cache) argv.push('--cache', args.cache);
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'], cwd: PACKAGE_ROOT });
    return new ConfigApp(child, args.instance);
  }

  /** The first event (after index `from`) that matches, waiting up to timeoutMs. */
  async waitFor(match: (e: AppEvent) => boolean, timeoutMs = 10_000, from = 0): Promise<AppEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.slice(from).find(match);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`${this.instance}: no such event in ${JSON.stringify(this.events)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  applied(revision: number, timeoutMs?: number): Promise<AppEvent> {
    return this.waitFor((e) => e.event === 'applied' && e.revision === revision, timeoutMs);
  }

  /** The last event named `event`. */
  last(event: string): AppEvent | undefined {
    return [...this.events].reverse().find((e) => e.event === event);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5000))]);
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
