/**
 * The coordinator's side of the worker processes: forks them, hands each its
 * share of the proxies, and gathers what they report. Also the progress line.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ConvergenceReport, Expectation, FromWorker, Progress, ProxySpec, ProxyState, ToWorker, WorkerConfig } from './messages.js';
import { now } from './stats.js';

/** The fleet did not do what was asked in time (exit code 1, not 2). */
export class SimulationError extends Error {}

type Msg<T extends FromWorker['t']> = Extract<FromWorker, { t: T }>;

interface Waiter {
  accept(m: FromWorker): boolean;
  fail(e: Error): void;
}

/** All worker processes of one phase. */
export class Fleet {
  private readonly progress = new Map<number, Progress>();
  private readonly waiters = new Set<Waiter>();
  /**
   * Final convergence reports by change, kept as they arrive: a fast push can
   * converge before the coordinator starts waiting for it (the write's
   * response or the floor's "pushed" can come after the last ACK).
   */
  private readonly finals = new Map<number, Msg<'converged'>[]>();
  private stopping = false;

  private constructor(private readonly children: ChildProcess[]) {
    children.forEach((child, i) => {
      child.on('message', (m: FromWorker) => {
        if (m.t === 'progress') this.progress.set(m.worker, m.progress);
        if (m.t === 'error') return this.failAll(new Error(`worker ${m.worker}: ${m.message}`));
        if (m.t === 'converged' && m.final) this.finals.set(m.report.change, [...(this.finals.get(m.report.change) ?? []), m]);
        for (const w of [...this.waiters]) if (w.accept(m)) this.waiters.delete(w);
      });
      child.on('exit', (code, signal) => {
        if (!this.stopping) this.failAll(new Error(`worker ${i} exited unexpectedly (${signal ?? `code ${code}`})`));
      });
    });
  }

  /** Forks `n` workers and waits until each has loaded the protos. */
  static async launch(n: number): Promise<Fleet> {
    const path = fileURLToPath(new URL('./worker.js', import.meta.url));
    const children = Array.from({ length: n }, (_, i) =>
      fork(path, [], {
        serialization: 'advanced',
        // Not the parent's execArgv: under `node --test` that would make each worker a test runner.
        execArgv: ['--enable-source-maps'],
        env: { ...process.env, SIM_WORKER: String(i) },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    const fleet = new Fleet(children);
    // A worker exits when its IPC channel closes, so a dying coordinator takes its workers along.
    try {
      await fleet.gather('ready', () => true, n, 60_000);
    } catch (e) {
      await fleet.stop();
      throw e;
    }
    return fleet;
  }

  get size(): number {
    return this.children.length;
  }

  private failAll(e: Error): void {
    for (const w of this.waiters) w.fail(e);
    this.waiters.clear();
  }

  private send(i: number, m: ToWorker): void {
    this.children[i].send(m);
  }

  /** Waits for `count` messages of kind `t` accepted by `match`. */
  private gather<T extends FromWorker['t']>(t: T, match: (m: Msg<T>) => boolean, count: number, timeoutMs: number, onTimeout?: () => Error): Promise<Msg<T>[]> {
    return new Promise((resolve, reject) => {
      const got: Msg<T>[] = [];
      if (count === 0) return resolve(got);
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(onTimeout?.() ?? new SimulationError(`workers did not answer ${t} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const w: Waiter = {
        accept: (m) => {
          if (m.t !== t || !match(m as Msg<T>)) return false;
          got.push(m as Msg<T>);
          if (got.length < count) return false;
          clearTimeout(timer);
          resolve(got);
          return true;
        },
        fail: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.add(w);
    });
  }

  /**
   * Hands the proxies out round-robin (so every worker gets a share of each
   * kind and of the connect schedule) and starts connecting at `start`.
   */
  start(specs: ProxySpec[], base: Omit<WorkerConfig, 'worker' | 'proxies'>): void {
    for (let w = 0; w < this.size; w++) this.send(w, { t: 'start', config: { ...base, worker: w, proxies: specs.filter((_, i) => i % this.size === w) } });
  }

  /** Resolves when every measured proxy has a full config. */
  async waitSynced(timeoutMs: number): Promise<Msg<'synced'>[]> {
    return this.gather('synced', () => true, this.size, timeoutMs, () => new SimulationError(`not every proxy synced within ${timeoutMs / 1000} s (${this.describe()})`));
  }

  /** Arms every worker for change `change` and waits until all have snapshotted. */
  async arm(change: number, expect: Expectation): Promise<{ expected: number; excluded: number }> {
    const replies = this.gather('armed', (m) => m.change === change, this.size, 30_000);
    for (let w = 0; w < this.size; w++) this.send(w, { t: 'arm', change, expect });
    const r = await replies;
    return { expected: r.reduce((a, m) => a + m.expected, 0), excluded: r.reduce((a, m) => a + m.excluded, 0) };
  }

  /** Waits until every expected proxy has converged on change `change`, or collects what there is at the deadline. */
  async waitConverged(change: number, timeoutMs: number): Promise<{ report: ConvergenceReport; complete: boolean }> {
    const have = () => (this.finals.get(change)?.length ?? 0) >= this.size;
    const complete = await new Promise<boolean>((resolve, reject) => {
      if (have()) return resolve(true);
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        resolve(false);
      }, timeoutMs);
      const w: Waiter = {
        accept: () => {
          if (!have()) return false;
          clearTimeout(timer);
          resolve(true);
          return true;
        },
        fail: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.add(w);
    });
    let list: Msg<'converged'>[];
    if (complete) list = this.finals.get(change)!;
    else {
      const partial = this.gather('converged', (m) => m.report.change === change && !m.final, this.size, 30_000);
      for (let w = 0; w < this.size; w++) this.send(w, { t: 'collect', change });
      list = await partial;
    }
    this.finals.delete(change);
    const r: ConvergenceReport = { change, expected: 0, converged: 0, excluded: 0, times: [], firstRecv: Infinity, bytes: 0, unexpected: 0, missing: [] };
    for (const { report: x } of list) {
      r.expected += x.expected;
      r.converged += x.converged;
      r.excluded += x.excluded;
      r.times.push(...x.times);
      r.firstRecv = Math.min(r.firstRecv, x.firstRecv);
      r.bytes += x.bytes;
      r.unexpected += x.unexpected;
      r.missing.push(...x.missing);
    }
    return { report: r, complete };
  }

  /** Per-proxy state of every worker. */
  async state(): Promise<{ proxies: ProxyState[]; decode: { responses: number; decoded: number }; cpu: number[]; slowConnected: number }> {
    const replies = this.gather('state', () => true, this.size, 60_000);
    for (let w = 0; w < this.size; w++) this.send(w, { t: 'state' });
    const list = (await replies).sort((a, b) => a.worker - b.worker);
    return {
      proxies: list.flatMap((m) => m.proxies),
      decode: { responses: list.reduce((a, m) => a + m.decode.responses, 0), decoded: list.reduce((a, m) => a + m.decode.decoded, 0) },
      cpu: list.map((m) => m.cpu),
      slowConnected: list.reduce((a, m) => a + m.slowConnected, 0),
    };
  }

  /** Sum of the latest progress of every worker. */
  totals(): Progress {
    const t: Progress = { connected: 0, synced: 0, converged: 0, retries: {}, cpu: 0 };
    for (const p of this.progress.values()) {
      t.connected += p.connected;
      t.synced += p.synced;
      t.converged += p.converged;
      t.cpu += p.cpu;
      for (const [k, v] of Object.entries(p.retries)) t.retries[k] = (t.retries[k] ?? 0) + v;
    }
    return t;
  }

  /** Worker CPU seconds, per worker, from the latest progress. */
  cpuSeconds(): number[] {
    return Array.from({ length: this.size }, (_, i) => this.progress.get(i)?.cpu ?? 0);
  }

  private describe(): string {
    const t = this.totals();
    const retries = Object.entries(t.retries).map(([k, v]) => `${k}×${v}`);
    return `${t.synced} synced, ${t.connected} connected${retries.length ? `, stream failures ${retries.join(' ')}` : ''}`;
  }

  /** Closes every stream and waits for the workers to exit. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.failAll(new SimulationError('fleet stopped'));
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
            c.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            if (c.connected) c.send({ t: 'stop' } satisfies ToWorker);
            else c.kill('SIGTERM');
          }),
      ),
    );
  }
}

/** The progress line on stderr: rewritten in place about once a second on a TTY, a line every 5 s otherwise. */
export class ProgressLine {
  private timer?: NodeJS.Timeout;
  private text = () => '';
  private readonly tty = !!process.stderr.isTTY;

  constructor(private readonly enabled: boolean) {}

  show(text: () => string): void {
    this.text = text;
    if (!this.enabled || this.timer) return;
    this.timer = setInterval(() => this.print(), this.tty ? 1000 : 5000);
    this.timer.unref();
  }

  private print(): void {
    if (this.tty) process.stderr.write(`\r\x1b[2K${this.text()}`);
    else process.stderr.write(`${new Date(now()).toISOString().slice(11, 19)} ${this.text()}\n`);
  }

  /** A line that stays (phase boundaries). */
  note(line: string): void {
    if (!this.enabled) return;
    process.stderr.write(this.tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.enabled && this.tty) process.stderr.write('\r\x1b[2K');
  }
}
