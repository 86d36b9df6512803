/** The human report printed on stdout. */
import type { RunResult, SimulationResult } from './result.js';
import { type Percentiles, percentiles } from './stats.js';

const num = (x: number, digits = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a');

export function fmtMs(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x >= 10_000 ? `${num(x / 1000, 1)} s` : x >= 1000 ? `${num(x / 1000, 2)} s` : x >= 10 ? `${num(x, 0)} ms` : `${num(x, 1)} ms`;
}

export function fmtBytes(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  const sign = x < 0 ? '-' : '';
  const a = Math.abs(x);
  return a >= 1 << 30 ? `${sign}${num(a / 2 ** 30, 2)} GiB` : a >= 1 << 20 ? `${sign}${num(a / 2 ** 20, 1)} MiB` : a >= 1024 ? `${sign}${num(a / 1024, 1)} KiB` : `${sign}${num(a)} B`;
}

const pct = (p: Percentiles) => `p50 ${fmtMs(p.p50)}  p90 ${fmtMs(p.p90)}  p99 ${fmtMs(p.p99)}  max ${fmtMs(p.max)}`;
const row = (label: string, value: string) => `  ${label.padEnd(32)}${value}`;
const ratio = (x: number) => (Number.isFinite(x) ? `${num(x, 1)}×` : 'n/a');

function runReport(r: RunResult, res: SimulationResult): string[] {
  const o = res.options;
  const out: string[] = [];
  const kinds = Object.entries(r.fleet.kinds).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
  out.push(
    `fleet: ${r.fleet.proxies} proxies (${kinds})${r.fleet.slow ? ` + ${r.fleet.slow} slow` : ''} on ${r.fleet.workers} worker processes; ` +
      `${r.fleet.streamsPerConnection} stream${r.fleet.streamsPerConnection > 1 ? 's' : ''} per HTTP/2 connection (${r.fleet.connections} connections); ` +
      `connect rate ${r.fleet.connectRate ? `${r.fleet.connectRate}/s` : 'all at once'}${o.ackDelayMs ? `; ACK delay ${o.ackDelayMs} ms` : ''}`,
    `catalogue: ${r.catalogue.services} services × ${r.catalogue.endpointsPerService} endpoints, ${r.catalogue.groups} group${r.catalogue.groups > 1 ? 's' : ''} ` +
      `(${r.catalogue.listeners} listener${r.catalogue.listeners > 1 ? 's' : ''}, at most 256 routes each); ${num(r.catalogue.resources)} resources seeded in ${num(r.catalogue.seedSeconds, 1)} s (${r.catalogue.batches} apply batches)`,
    `control plane: ${r.controlPlane.mode}${r.controlPlane.pid ? ` (pid ${r.controlPlane.pid})` : ''}, REST ${r.controlPlane.api}, xDS ${r.controlPlane.xds}` +
      (r.controlPlane.mode === 'spawned' ? `, XDS_DEBOUNCE_QUIET_MS=${o.debounceMs}` : ''),
  );
  if (r.initialSync) {
    const s = r.initialSync;
    const retries = Object.entries(s.retries).map(([k, v]) => `${k}×${v}`).join(' ');
    out.push(
      '',
      'Initial sync',
      row(`all ${r.fleet.proxies} proxies synced in`, fmtMs(s.seconds * 1000)),
      row('per proxy, connect → synced', pct(s.perProxyMs)),
      row('control-plane CPU', `${num(s.cpuSeconds, 2)} s`),
      row('bytes per proxy', `${fmtBytes(s.bytesPerProxy)} (total ${fmtBytes(s.bytesTotal)})`),
      row('stream retries', retries || 'none'),
    );
  }
  if (r.memory) {
    const m = r.memory;
    out.push(
      '',
      'Control-plane memory',
      row('idle (seeded, no streams)', `RSS ${fmtBytes(m.idle.rss)}  heap ${fmtBytes(m.idle.heap)}`),
      row(`with ${r.fleet.proxies} streams synced`, `RSS ${fmtBytes(m.synced.rss)}  heap ${fmtBytes(m.synced.heap)}`),
      ...(m.afterChanges ? [row('after the changes', `RSS ${fmtBytes(m.afterChanges.rss)}  heap ${fmtBytes(m.afterChanges.heap)}`)] : []),
      row('per proxy', `RSS ${fmtBytes(m.rssPerProxy)}  heap ${fmtBytes(m.heapPerProxy)}`),
    );
  }
  if (r.changes.length) {
    out.push('', `Changes (${r.changes.length}, one every ${o.intervalMs} ms, script ${o.script.join(',')})`);
    out.push(`  ${'#'.padStart(3)}  ${'kind'.padEnd(8)}${'target'.padEnd(34)}${'proxies'.padStart(8)}${'converged'.padStart(11)}${'fan-out'.padStart(10)}${'bytes/proxy'.padStart(13)}`);
    for (const c of r.changes)
      out.push(
        `  ${String(c.index).padStart(3)}  ${c.kind.padEnd(8)}${c.target.slice(0, 33).padEnd(34)}${`${c.converged}/${c.expected}`.padStart(8)}${fmtMs(c.convergenceMs).padStart(11)}${fmtMs(c.fanOutMs).padStart(10)}${fmtBytes(c.bytesPerProxy).padStart(13)}` +
          (c.unexpected ? `  (${c.unexpected} unexpected pushes)` : ''),
      );
    const excluded = r.changes.reduce((a, c) => a + c.excluded, 0);
    if (excluded) out.push(`  (${excluded} proxy-changes excluded: a grpc-like proxy watches one host and only counts changes of its own service)`);
  }
  if (r.convergence) {
    const c = r.convergence;
    out.push(
      row('convergence per change', pct(c.perChangeMs)),
      ...[...new Set(r.changes.map((ch) => ch.kind))].map((kind) => row(`  ${kind} changes`, pct(percentiles(r.changes.filter((ch) => ch.kind === kind).map((ch) => ch.convergenceMs))))),
      row('convergence per proxy', pct(c.perProxyMs)),
      row('fan-out per change', pct(c.fanOutMs)),
      row('control-plane CPU per push', `${num(c.cpuSecondsPerPush, 3)} s (${num(c.changePhaseCpuSeconds, 2)} s over the change phase)`),
      row('bytes per push', `${fmtBytes(c.bytesPerPush)} total, ${fmtBytes(c.bytesPerProxyPerPush)} per proxy`),
    );
  }
  if (r.slow?.count) out.push('', 'Slow proxies (stop reading after their first sync; not in the figures above)', row('synced / still connected at end', `${r.slow.synced} / ${r.slow.connectedAtEnd} of ${r.slow.count}`));
  if (r.floor) {
    const f = r.floor;
    const health = r.changes.filter((c) => c.kind === 'health');
    out.push(
      '',
      `Floor: bare grpc-js server replaying Switchyard's ${f.protocol} bytes to ${f.proxies} Envoy-like proxies`,
      row('captured', `initial ${Object.entries(f.captured.initialBytes).map(([k, v]) => `${k.toUpperCase()} ${fmtBytes(v!)}`).join(', ')}; health push ${fmtBytes(f.captured.pushBytes[0] ?? NaN)}`),
      row('initial sync', `${fmtMs(f.initialSyncSeconds * 1000)} (Switchyard ${fmtMs((r.initialSync?.seconds ?? NaN) * 1000)})`),
      row('per proxy, connect → synced', pct(f.perProxySyncMs)),
      row('memory per stream', `RSS ${fmtBytes(f.memory.rssPerStream)}  heap ${fmtBytes(f.memory.heapPerStream)} (Switchyard per proxy: RSS ${fmtBytes(r.memory?.rssPerProxy ?? NaN)}, ${ratio(f.ratios.memory)}; heap ${fmtBytes(r.memory?.heapPerProxy ?? NaN)})`),
      row('fan-out per push', pct(f.fanOutMs)),
      row('Switchyard / floor fan-out', health.length ? `${ratio(f.ratios.fanOut)} (medians over health pushes)` : 'n/a (no health change in the script)'),
      row('floor write loop', `p50 ${fmtMs(f.pushes.map((p) => p.writeLoopMs).sort((a, b) => a - b)[Math.floor((f.pushes.length - 1) / 2)] ?? NaN)}, ` + `blocked writes ${f.pushes.reduce((a, p) => a + p.blocked, 0)}`),
    );
  }
  const d = r.fleet.decodeCache;
  if (d.responses) {
    const busy = r.fleet.workerCpuSeconds.map((c) => `${num((c / Math.max(1e-9, r.fleet.wallSeconds)) * 100)}%`).join(', ');
    out.push(
      '',
      'Simulator',
      row('decode cache (per worker)', `${num(d.responses)} responses, ${num(d.decoded)} decoded (${num((1 - d.decoded / d.responses) * 100, 1)}% from cache)`),
      row('worker CPU (of one core)', `${busy} over ${num(r.fleet.wallSeconds, 1)} s`),
    );
    if (r.fleet.workerCpuSeconds.some((c) => c / r.fleet.wallSeconds > 0.8)) out.push('  warning: a worker was above 80% of a core; add --workers so the simulator is not the bottleneck');
  }
  if (r.error) out.push('', `FAILED: ${r.error}`);
  return out;
}

/** The whole report: each run, then medians when there are several. */
export function formatReport(res: SimulationResult): string {
  const m = res.machine;
  const out = [`Switchyard fleet simulation, ${m.date}`, `machine: ${m.cpu}, ${m.cores} cores, ${fmtBytes(m.memoryBytes)}, node ${m.node}, ${m.platform}`];
  for (const r of res.runs) {
    out.push('', res.runs.length > 1 ? `=== Run ${r.run + 1} of ${res.options.runs} ===` : '');
    out.push(...runReport(r, res));
  }
  if (res.runs.length > 1) {
    out.push('', `=== Medians over ${res.runs.filter((r) => !r.error).length} runs ===`);
    for (const [k, v] of Object.entries(res.summary))
      out.push(row(k, /Ms$/.test(k) ? fmtMs(v) : /Bytes|bytes/i.test(k) ? fmtBytes(v) : /Seconds/.test(k) ? `${num(v, 3)} s` : num(v, 2)));
  }
  out.push('', res.ok ? 'result: ok' : `result: FAILED (${res.error})`);
  return out.filter((l, i, a) => !(l === '' && a[i - 1] === '')).join('\n');
}
