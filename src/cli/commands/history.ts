import type { Command } from 'commander';
import { idOf, KINDS, type Kind, PLURAL } from '../../model/resources.js';
import { type Client, CliError } from '../client.js';
import type { Context } from '../context.js';
import { kindOf, pathOf } from '../kinds.js';
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
    .description('put resources back as they were at a store revision (all of them, or KIND NAME), from the change log')
    .requiredOption('--to-revision <n>', 'store revision to go back to', (v) => Number(v))
    .argument('[kind]')
    .argument('[name]')
    .option('--dry-run', 'say what would change, writing nothing')
    .action(async (kind: string | undefined, name: string | undefined, o: { toRevision: number; dryRun?: boolean }) => {
      if (!Number.isInteger(o.toRevision) || o.toRevision < 0) throw new CliError('--to-revision must be a revision number', [], 2);
      const c = ctx.client();
      const log = (await changes(c, true)).filter(select(kind, name));
      // For every resource changed after the revision: its last state at or before it (absent = it did not exist).
      const touched = new Map<string, any>();
      for (const ch of log) if (ch.revision > o.toRevision) touched.set(idOf(ch), ch);
      if (!touched.size) return ctx.write(`nothing changed after revision ${o.toRevision}\n`);
      const restore: any[] = [];
      const remove: any[] = [];
      for (const [id, ch] of touched) {
        const before = [...log].reverse().find((x) => idOf(x) === id && x.revision <= o.toRevision);
        if (before && before.op !== 'delete' && before.object) restore.push(before.object);
        else remove.push(ch);
      }
      const docs = restore.map((r) => ({ kind: r.kind, name: r.name, ...(r.service ? { service: r.service } : {}), ...(r.namespace ? { namespace: r.namespace, group: r.group } : {}), labels: r.labels, spec: r.spec }));
      if (docs.length) {
        const out = await c.request('POST', `/api/v1/apply${o.dryRun ? '?dryRun=true' : ''}`, docs);
        for (const r of out.results) ctx.write(`${r.kind.toLowerCase()}/${r.name} ${r.result === 'updated' ? 'restored' : r.result === 'created' ? 'recreated' : 'unchanged'}${o.dryRun ? ' (dry run)' : ''}\n`);
      }
      // Created after the revision: delete them, dependents first.
      const order = (x: any) => -KINDS.indexOf(x.kind as Kind);
      for (const x of remove.sort((a, b) => order(a) - order(b))) {
        if (!o.dryRun) await c.request('DELETE', x.kind === 'Config' ? `/api/v1/configs/${x.namespace}/${x.group}/${x.name}` : `${pathOf(x.kind, x.name, x.service)}?cascade=true`).catch((e) => (e instanceof CliError && e.status === 404 ? undefined : Promise.reject(e)));
        ctx.write(`${x.kind.toLowerCase()}/${x.service ? `${x.service}/` : x.namespace ? `${x.namespace}/${x.group}/` : ''}${x.name} deleted (it did not exist at revision ${o.toRevision})${o.dryRun ? ' (dry run)' : ''}\n`);
      }
    });
}
