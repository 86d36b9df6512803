import type { Command } from 'commander';
import { CliError } from '../client.js';
import type { Context } from '../context.js';
import { pathOf } from '../kinds.js';

const collect = (v: string, prev: string[]) => [...prev, v];
const int = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new CliError(`${what} must be an integer, not ${JSON.stringify(v)}`, [], 2);
  return n;
};

export function endpointCommands(program: Command, ctx: Context): void {
  program
    .command('register')
    .description('register an instance of a service (with --ttl, a heartbeat endpoint that expires unless renewed)')
    .argument('<service>')
    .requiredOption('--address <ip>', 'IP address')
    .requiredOption('--port <port>', 'port', int('--port'))
    .option('--name <name>', 'endpoint name (generated when absent)')
    .option('--label <k=v>', 'a label (repeat for more), e.g. version=v2', collect, [])
    .option('--weight <n>', 'load-balancing weight', int('--weight'))
    .option('--ttl <seconds>', 'heartbeat TTL: renew with `switchyard heartbeat`', int('--ttl'))
    .option('--zone <zone>', 'locality zone')
    .option('--region <region>', 'locality region')
    .action(async (service: string, o: { address: string; port: number; name?: string; label: string[]; weight?: number; ttl?: number; zone?: string; region?: string }) => {
      const labels: Record<string, string> = {};
      for (const l of o.label) {
        const i = l.indexOf('=');
        if (i < 1) throw new CliError(`--label ${l}: expected key=value`, [], 2);
        labels[l.slice(0, i)] = l.slice(i + 1);
      }
      const spec = {
        address: o.address,
        port: o.port,
        ...(Object.keys(labels).length ? { labels } : {}),
        ...(o.weight !== undefined ? { weight: o.weight } : {}),
        ...(o.ttl !== undefined ? { ttlSeconds: o.ttl } : {}),
        ...(o.zone || o.region ? { locality: { ...(o.region ? { region: o.region } : {}), ...(o.zone ? { zone: o.zone } : {}) } } : {}),
      };
      const r = await ctx.client().request('POST', pathOf('Endpoint', undefined, service), { ...(o.name ? { name: o.name } : {}), spec });
      if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print(r);
      ctx.write(`endpoint/${service}/${r.name} registered${o.ttl ? ` (heartbeat every < ${o.ttl}s: switchyard heartbeat ${service} ${r.name})` : ''}\n`);
    });

  program
    .command('heartbeat')
    .description('renew a heartbeat endpoint once, or every --every seconds until stopped')
    .argument('<service>')
    .argument('<endpoint>')
    .option('--every <seconds>', 'keep renewing at this interval', int('--every'))
    .action(async (service: string, name: string, o: { every?: number }) => {
      for (;;) {
        const r = await ctx.client().request('PUT', `${pathOf('Endpoint', name, service)}/heartbeat`);
        ctx.write(`endpoint/${service}/${name} renewed (ttl ${r.ttlSeconds}s)\n`);
        if (!o.every) return;
        await new Promise((res) => setTimeout(res, o.every! * 1000));
      }
    });

  program
    .command('drain')
    .description('take an endpoint out of rotation (health: draining); its share goes to the others')
    .argument('<service>')
    .argument('<endpoint>')
    .action(async (service: string, name: string) => {
      const r = await ctx.client().request('PATCH', pathOf('Endpoint', name, service), { spec: { health: 'draining' } }, { 'content-type': 'application/merge-patch+json' });
      ctx.write(`endpoint/${service}/${r.name} draining\n`);
    });
}
