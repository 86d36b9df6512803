import type { Command } from 'commander';
import type { RolloutState } from '../../model/rollout.js';
import { CliError } from '../client.js';
import type { Context } from '../context.js';
import { color, table } from '../output.js';

const BAR = 30;
const DONE = ['Succeeded', 'Failed', 'Aborted'];

/** The live view of a rollout: phase, a progress bar over the steps, the weights, and each metric with its threshold. */
export function rolloutView(r: any): string {
  const s: RolloutState | undefined = r.status?.rollout;
  const steps = r.spec.steps.length;
  const phase = s?.phase ?? 'Pending';
  const paint = phase === 'Succeeded' ? 'green' : phase === 'Failed' || phase === 'Aborted' || phase === 'RollingBack' ? 'red' : phase === 'Paused' ? 'yellow' : 'cyan';
  const done = Math.min(s?.step ?? 0, steps);
  const filled = Math.round((done / steps) * BAR);
  const lines = [
    `Rollout ${color('bold', r.name)}: ${r.spec.service} ${r.spec.stable} → ${r.spec.canary}`,
    `Phase:   ${color(paint, phase)}${s?.message ? `  ${s.message}` : ''}`,
    `Steps:   [${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}] ${done}/${steps}`,
  ];
  r.spec.steps.forEach((st: any, i: number) => {
    const what = st.setWeight !== undefined ? `setWeight ${st.setWeight}` : st.setHeaderRoute ? `setHeaderRoute ${st.setHeaderRoute.name}` : st.pause?.seconds !== undefined ? `pause ${st.pause.seconds}s` : 'pause (until promoted)';
    lines.push(`  ${i < done ? '✓' : i === done && !DONE.includes(phase) ? '▶' : ' '} ${i}: ${what}`);
  });
  lines.push(`Weights: ${r.spec.stable} ${s?.weights.stable ?? 100}%   ${r.spec.canary} ${s?.weights.canary ?? 0}%${s?.headerRoute ? `   header ${s.headerRoute.name} → ${r.spec.canary}` : ''}`);
  const a = s?.lastAnalysis;
  if (a) {
    lines.push(`Analysis (${a.at}): ${a.result}, ${a.canaryRequests} canary / ${a.stableRequests} stable request(s)`);
    const rows = a.metrics.map((m) => [m.name, m.value === null ? '-' : String(m.value), m.threshold, m.result, m.message ?? '']);
    lines.push(...table(['METRIC', 'VALUE', 'THRESHOLD', 'RESULT', 'NOTE'], rows).trimEnd().split('\n').map((l) => `  ${l}`));
  }
  return lines.join('\n') + '\n';
}

export function rolloutCommands(program: Command, ctx: Context): void {
  const rollout = program.command('rollout').description('canary rollouts: status, actions, history');
  const get = (name: string) => ctx.client().get(`/api/v1/rollouts/${encodeURIComponent(name)}`);

  rollout
    .command('status')
    .description('where a rollout is; exits 0 when it succeeded, 1 when it failed or was aborted')
    .argument('<name>')
    .option('-w, --watch', 'follow it live until it ends')
    .option('--interval <ms>', 'how often --watch looks', (v) => Number(v), 1000)
    .action(async (name: string, o: { watch?: boolean; interval: number }) => {
      let r = await get(name);
      const tty = process.stdout.isTTY;
      for (;;) {
        if (ctx.format() === 'json' || ctx.format() === 'yaml') ctx.print(r.status?.rollout ?? {});
        else ctx.write((o.watch && tty ? '\x1b[2J\x1b[H' : '') + rolloutView(r));
        const phase = r.status?.rollout?.phase;
        if (!o.watch || DONE.includes(phase)) {
          if (phase === 'Failed' || phase === 'Aborted') ctx.exitCode(1);
          return;
        }
        await new Promise((res) => setTimeout(res, o.interval));
        const next = await get(name);
        if (!tty && JSON.stringify(next.status?.rollout) === JSON.stringify(r.status?.rollout)) {
          r = next;
          // Not a terminal: print only what changed, so a CI log stays readable.
          for (;;) {
            await new Promise((res) => setTimeout(res, o.interval));
            r = await get(name);
            if (JSON.stringify(r.status?.rollout) !== JSON.stringify(next.status?.rollout)) break;
          }
        } else r = next;
      }
    });

  for (const action of ['promote', 'pause', 'resume', 'abort', 'retry'] as const) {
    const cmd = rollout
      .command(action)
      .description({ promote: 'the next step now (--full: straight to 100 %)', pause: 'hold where it is', resume: 'continue (past a manual pause)', abort: 'all traffic back to stable now', retry: 'start a failed or aborted rollout again' }[action])
      .argument('<name>');
    if (action === 'promote') cmd.option('--full', 'skip the remaining steps');
    cmd.action(async (name: string, o: { full?: boolean }) => {
      const r = await ctx.client().request('POST', `/api/v1/rollouts/${encodeURIComponent(name)}/${action}${o.full ? '?full=true' : ''}`);
      ctx.write(`rollout/${r.name} ${action}${o.full ? ' --full' : ''} requested (the leader carries it out)\n`);
    });
  }

  rollout
    .command('history')
    .description("a rollout's transitions, and the changes it and people made")
    .argument('<name>')
    .action(async (name: string) => {
      const r = await get(name);
      const s: RolloutState | undefined = r.status?.rollout;
      if (!s) throw new CliError(`rollout/${name} has not started yet`);
      if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print(s.history);
      ctx.write(table(['AT', 'FROM', 'TO', 'STEP', 'REASON'], s.history.map((h) => [h.at, h.from ?? '-', h.to, h.step, h.reason])));
    });
}
