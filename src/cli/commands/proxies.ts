import type { Command } from 'commander';
import YAML from 'yaml';
import { CliError } from '../client.js';
import type { Context } from '../context.js';
import { color, table } from '../output.js';

const TYPES = ['CDS', 'EDS', 'LDS', 'RDS'];

/** SYNCED (the last response was ACKed), STALE (sent, not answered), NACKED (refused, with why), or - (never asked). */
function state(t: any): string {
  if (!t) return '-';
  if (t.lastNack && t.lastNack.version === t.lastSentVersion) return color('red', `NACKED (${t.lastNack.message})`);
  if (t.lastSentVersion && t.lastAckedVersion === t.lastSentVersion) return color('green', 'SYNCED');
  return color('yellow', 'STALE');
}

export function proxyCommands(program: Command, ctx: Context): void {
  program
    .command('proxy-status')
    .description('every xDS client connected to the replica you ask: group, client kind, and per type SYNCED, STALE or NACKED')
    .action(async () => {
      const out = await ctx.client().get('/api/v1/proxies');
      if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print(out);
      if (!out.items.length) return ctx.write(`No proxies connected to replica ${out.replica}.\n`);
      const rows = out.items.map((p: any) => [p.id, p.group, p.clientKind, p.protocol, out.replica, ...TYPES.map((t) => state(p.types[t])), ...(ctx.format() === 'wide' ? [p.userAgent, p.connectedAt] : [])]);
      ctx.write(table(['NAME', 'GROUP', 'KIND', 'PROTOCOL', 'REPLICA', ...TYPES, ...(ctx.format() === 'wide' ? ['USER AGENT', 'CONNECTED'] : [])], rows));
    });

  program
    .command('proxy-config')
    .description('the exact resources a proxy was last sent (like an Envoy config dump)')
    .argument('<proxy>', 'node id')
    .option('--type <type>', 'cds, eds, lds or rds')
    .action(async (id: string, o: { type?: string }) => {
      const type = o.type?.toUpperCase();
      if (type && !TYPES.includes(type)) throw new CliError(`--type ${o.type}: one of cds, eds, lds, rds`, [], 2);
      const streams = await ctx.client().get(`/api/v1/proxies/${encodeURIComponent(id)}/config`);
      const picked = streams.map((s: any) => ({ id: s.id, stream: s.streamId, group: s.group, conditions: s.conditions, configs: type ? { [type]: s.configs[type] } : s.configs }));
      if (ctx.format() === 'json') return ctx.print(picked);
      ctx.write(YAML.stringify(picked.length === 1 ? picked[0] : picked, { lineWidth: 0 }));
    });
}
