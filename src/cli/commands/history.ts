import type { Command } from 'commander';
import { KINDS, PLURAL } from '../../model/resources.js';
import { type Client, CliError } from '../client.js';
import type { Context } from '../context.js';
import { kindOf } from '../kinds.js';
import { table } from '../output.js';

/** The whole change log (or from `since`), following nextSince. */
async function changes(c: Client, withObjects: boolean, since = 0): Promise<any[]> {
  const out: any[] = [];
  for (;;) {
    const page = await c.get(`/api/v1/changes?since=${since}&limit=1000${withObjects ? '&withObjects=true' : ''}`);
    out.push(...page.changes);
    if (!page.changes.length || page.nextSince >= page.revision) return out;
    since = page.nextSince;
  }
}

const select = (kind?: string, name?: string) => {
  const k = kind ? kindOf(kind) : undefined;
  if (kind && !k) throw new CliError(`unknown kind ${JSON.stringify(kind)}: one of ${KINDS.map((x) => PLURAL[x]).join(', ')}`, [], 2);
  return (c: any) => (!k || c.kind === k) && (!name || c.name === name);
};

export function historyCommands(program: Command, ctx: Context): void {
  program
    .command('history')
    .description('the change log, with revision, actor and version; of one resource with KIND NAME')
    .argument('[kind]')
    .argument('[name]')
    .action(async (kind?: string, name?: string) => {
      const list = (await changes(ctx.client(), false)).filter(select(kind, name));
      if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print(list);
      ctx.write(table(['REVISION', 'AT', 'ACTOR', 'OP', 'KIND', 'NAME', 'VERSION'], list.map((c) => [c.revision, c.at, c.actor, c.op, c.kind, c.service ? `${c.service}/${c.name}` : c.name, c.version])));
    });

  program
    .command('rollback')
    .description('put resources back as they were at a store revision (all of them, or KIND NAME), in one server-side transaction')
    .requiredOption('--to-revision <n>', 'store revision to go back to', (v) => Number(v))
    .argument('[kind]')
    .argument('[name]')
    .option('--dry-run', 'say what would change, writing nothing')
    .action(async (kind: string | undefined, name: string | undefined, o: { toRevision: number; dryRun?: boolean }) => {
      if (!Number.isInteger(o.toRevision) || o.toRevision < 0) throw new CliError('--to-revision must be a revision number', [], 2);
      const k = kind ? kindOf(kind) : undefined;
      if (kind && !k) throw new CliError(`unknown kind ${JSON.stringify(kind)}: one of ${KINDS.map((x) => PLURAL[x]).join(', ')}`, [], 2);
      // The server plans and writes the rollback in one transaction (POST /api/v1/rollback).
      const out = await ctx.client().request('POST', '/api/v1/rollback', { toRevision: o.toRevision, ...(k ? { kinds: [k] } : {}), ...(name ? { names: [name] } : {}), dryRun: !!o.dryRun });
      if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print(out);
      if (!out.results.length) return ctx.write(`nothing changed after revision ${o.toRevision}\n`);
      const dry = o.dryRun ? ' (dry run)' : '';
      for (const r of out.results) {
        if (r.result === 'deleted') ctx.write(`${r.kind.toLowerCase()}/${r.service ? `${r.service}/` : r.namespace ? `${r.namespace}/${r.group}/` : ''}${r.name} deleted (it did not exist at revision ${o.toRevision})${dry}\n`);
        else ctx.write(`${r.kind.toLowerCase()}/${r.name} ${r.result}${dry}\n`);
      }
    });
}
