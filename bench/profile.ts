/**
 * In-process CPU profiling for benchmarks that run the product's code in
 * their own process (`BENCH_CPU_PROF=dir`). Unlike `node --cpu-prof`, it
 * covers only the measured part (not catalogue building or module loading),
 * writes a `.cpuprofile` that Chrome DevTools or speedscope open as a flame
 * graph, and prints the functions with the most self time, so a figure in
 * BENCHMARKS.md can name where the time goes without opening a viewer.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join, relative } from 'node:path';

/** The parts of a V8 CPU profile the summary reads (the inspector's Profiler.Profile). */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** A running profile; `stop` writes it and returns the summary lines. */
export interface Profiler {
  stop(): Promise<string[]>;
}

/** Starts a profile when `BENCH_CPU_PROF` names a directory; otherwise a profiler that does nothing. */
export async function startProfile(name: string, dir = process.env.BENCH_CPU_PROF): Promise<Profiler> {
  if (!dir) return { stop: async () => [] };
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  // 100 µs: fine enough for changes that take a few milliseconds each.
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
      session.disconnect();
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${name}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      return [`CPU profile: ${file} (open in Chrome DevTools or speedscope)`, ...summarize(profile)];
    },
  };
}

/**
 * Self time per function (name and file:line), largest first, as a share of
 * the sampled time. Sample counts come from `samples` when present, since
 * `hitCount` is not filled in by every V8 version.
 */
export function summarize(profile: CpuProfile, top = 15): string[] {
  const hits = new Map<number, number>();
  if (profile.samples?.length) for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  else for (const n of profile.nodes) hits.set(n.id, n.hitCount ?? 0);
  const total = [...hits.values()].reduce((a, b) => a + b, 0) || 1;
  const ms = (profile.endTime - profile.startTime) / 1000;
  const byFn = new Map<string, number>();
  for (const n of profile.nodes) {
    const h = hits.get(n.id) ?? 0;
    if (!h) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const where = url ? `${url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    byFn.set(key, (byFn.get(key) ?? 0) + h);
  }
  return [
    `self time, top ${top} of ${total} samples over ${ms.toFixed(0)} ms:`,
    ...[...byFn.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, h]) => `  ${((100 * h) / total).toFixed(1).padStart(5)} %  ${k}`),
  ];
}
