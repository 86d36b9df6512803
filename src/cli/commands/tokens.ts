import type { Command } from 'commander';
import type { Context } from '../context.js';
import { table } from '../output.js';

const many = (v: string, prev: string[] = []) => [...prev, ...v.split(',').filter(Boolean)];

/** `switchyard token create|list|delete`: API tokens (needs an admin token). */
export function tokenCommands(program: Command, ctx: Context): void {
  const token = program.command('token').description('API tokens: create (the secret is printed once), list, delete');

  token
    .command('create')
    .description('create a token and print its secret (shown only this once)')
    .argument('<name>', 'names the token in the change log (token:<name>)')
    .requiredOption('--role <role>', 'viewer, operator, editor or admin (repeatable)', many)
    .option('--expires <time>', 'ISO 8601 time at which it stops working')
    .option('--kind <kind>', 'scope: only these resource kinds (repeatable)', many)
    .option('--namespace <ns>', 'scope: only Configs of these namespaces (repeatable)', many)
    .option('--service <svc>', 'scope: only these Services and their endpoints (repeatable)', many)
    .action(async (name: string, o: { role: string[]; expires?: string; kind?: string[]; namespace?: string[]; service?: string[] }) => {
      const scopes = { ...(o.kind ? { kinds: o.kind } : {}), ...(o.namespace ? { namespaces: o.namespace } : {}), ...(o.service ? { services: o.service } : {}) };
      const t = await ctx.client().request('POST', '/api/v1/tokens', { name, roles: o.role, ...(o.expires ? { expiresAt: o.expires } : {}), ...(Object.keys(scopes).length ? { scopes } : {}) });
      if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print(t);
      ctx.write(`token/${t.name} created (id ${t.id}); its secret, shown only now:\n${t.secret}\n`);
    });

  token
    .command('list')
    .description('every token (never the secrets)')
    .action(async () => {
      const { items } = await ctx.client().get('/api/v1/tokens');
      if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print(items);
      const scope = (s: Record<string, string[]>) => Object.entries(s ?? {}).map(([k, v]) => `${k}=${v.join(',')}`).join(' ') || '-';
      ctx.write(table(['ID', 'NAME', 'ROLES', 'SCOPES', 'EXPIRES', 'CREATED BY'], items.map((t: any) => [t.id, t.name, t.roles.join(','), scope(t.scopes), t.expiresAt ?? '-', t.createdBy])));
    });

  token
    .command('delete')
    .description('delete (revoke) a token by id')
    .argument('<id>')
    .action(async (id: string) => {
      const out = await ctx.client().request('DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
      ctx.write(`token/${out.deleted.name} deleted\n`);
    });
}
