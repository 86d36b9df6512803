import { createTwoFilesPatch } from 'diff';
import type { Command } from 'commander';
import YAML from 'yaml';
import { KINDS, type Kind, PLURAL } from '../../model/resources.js';
import { CliError } from '../client.js';
import { readManifests } from '../files.js';
import { kindOf, pathOf } from '../kinds.js';
import { color, manifest, render, table, yamlDocs } from '../output.js';
import type { Context } from '../context.js';

const needKind = (word: string): Kind => {
  const k = kindOf(word);
  if (!k) throw new CliError(`unknown kind ${JSON.stringify(word)}: one of ${KINDS.map((x) => PLURAL[x]).join(', ')}`, [], 2);
  return k;
};

const WORD: Record<string, string> = { created: 'created', updated: 'configured', unchanged: 'unchanged' };

export function resourceCommands(program: Command, ctx: Context): void {
  program
    .command('apply')
    .description('create or update every resource in the files, in one transaction: all or nothing')
    .requiredOption('-f, --filename <path...>', 'YAML/JSON file, directory, or - for stdin')
    .option('--dry-run', 'validate against the server and say what would happen, writing nothing')
    .action(async (o: { filename: string[]; dryRun?: boolean }) => {
      const docs = readManifests(o.filename);
      const out = await ctx.client().request('POST', `/api/v1/apply${o.dryRun ? '?dryRun=true' : ''}`, docs);
      if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print(out);
      for (const r of out.results) ctx.write(`${r.kind.toLowerCase()}/${r.service ? `${r.service}/` : ''}${r.name} ${WORD[r.result] ?? r.result}${o.dryRun ? ' (dry run)' : ''}\n`);
    });

  program
    .command('diff')
    .description('show how the files differ from what the server holds (exit 1 when they differ)')
    .requiredOption('-f, --filename <path...>', 'YAML/JSON file, directory, or - for stdin')
    .action(async (o: { filename: string[] }) => {
      let differs = false;
      for (const doc of readManifests(o.filename) as any[]) {
        const kind = needKind(String(doc?.kind ?? ''));
        const id = `${PLURAL[kind]}/${doc.service ? `${doc.service}/` : ''}${doc.name}`;
        const live = await ctx
          .client()
          .get(pathOf(kind, doc.name, doc.service))
          .catch((e) => {
            if (e instanceof CliError && e.status === 404) return undefined;
            throw e;
          });
        const want = YAML.stringify(manifest({ ...doc, kind }), { lineWidth: 0, sortMapEntries: true });
        const have = live ? YAML.stringify(manifest(live), { lineWidth: 0, sortMapEntries: true }) : '';
        if (want === have) continue;
        differs = true;
        const patch = createTwoFilesPatch(`live/${id}`, `file/${id}`, have, want, live ? `version ${live.version}` : 'absent', 'to apply');
        for (const line of patch.split('\n').slice(1)) {
          ctx.write(
            (line.startsWith('+') && !line.startsWith('+++') ? color('green', line) : line.startsWith('-') && !line.startsWith('---') ? color('red', line) : line.startsWith('@@') ? color('cyan', line) : line) + '\n',
          );
        }
      }
      if (differs) ctx.exitCode(1);
    });

  program
    .command('get')
    .description('list resources of a kind, or get one')
    .argument('<kind>', 'services, endpoints, routes, listeners, policies, rollouts')
    .argument('[name]')
    .option('-l, --selector <selector>', 'label selector, e.g. version=v2,tier!=db')
    .option('-s, --service <service>', 'the service (for endpoints)')
    .action(async (word: string, name: string | undefined, o: { selector?: string; service?: string }) => {
      const kind = needKind(word);
      const c = ctx.client();
      const items = name ? [await c.get(pathOf(kind, name, o.service))] : await c.list(`${pathOf(kind, undefined, o.service)}${o.selector ? `?labelSelector=${encodeURIComponent(o.selector)}` : ''}`);
      ctx.write(render(kind, items, ctx.format()));
    });

  program
    .command('describe')
    .description('a resource with its status conditions and what refers to it (for a service: its endpoints and their health)')
    .argument('<kind>')
    .argument('<name>')
    .option('-s, --service <service>', 'the service (for endpoints)')
    .action(async (word: string, name: string, o: { service?: string }) => describe(ctx, needKind(word), name, o.service));

  program
    .command('delete')
    .description('delete a resource (409 while referenced, unless --cascade)')
    .argument('<kind>')
    .argument('<name>')
    .option('-s, --service <service>', 'the service (for endpoints)')
    .option('--cascade', 'remove the references to it as well')
    .action(async (word: string, name: string, o: { service?: string; cascade?: boolean }) => {
      const kind = needKind(word);
      const out = await ctx.client().request('DELETE', `${pathOf(kind, name, o.service)}${o.cascade ? '?cascade=true' : ''}`);
      if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print(out);
      for (const r of out.deleted) ctx.write(`${r.kind.toLowerCase()}/${r.service ? `${r.service}/` : ''}${r.name} deleted\n`);
      for (const r of out.updated) ctx.write(`${r.kind.toLowerCase()}/${r.name} configured (reference removed)\n`);
    });

  program
    .command('export')
    .description('every resource as YAML, ready to commit to git and apply again (heartbeat endpoints are left out)')
    .action(async () => {
      const c = ctx.client();
      const docs: unknown[] = [];
      for (const kind of KINDS) {
        if (kind === 'Endpoint') continue;
        const items = await c.list(pathOf(kind));
        docs.push(...items.map(manifest));
        if (kind === 'Service')
          for (const s of items) docs.push(...(await c.list(pathOf('Endpoint', undefined, s.name))).filter((e) => !e.status?.ephemeral).map(manifest));
      }
      // Dependencies first (the order apply writes in): policies, services, endpoints, routes, listeners, rollouts.
      const order = (d: any) => KINDS.indexOf(d.kind);
      ctx.write(yamlDocs(docs.sort((a: any, b: any) => order(a) - order(b))));
    });

  program
    .command('preview')
    .description('the dry run as an xDS diff: per node group, the clusters, endpoints, listeners and routes that would be added, changed or removed')
    .requiredOption('-f, --filename <path...>', 'YAML/JSON file, directory, or - for stdin')
    .action(async (o: { filename: string[] }) => {
      const out = await ctx.client().request('POST', '/api/v1/preview', readManifests(o.filename));
      if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print(out);
      for (const r of out.results) ctx.write(`${r.kind.toLowerCase()}/${r.service ? `${r.service}/` : ''}${r.name} ${WORD[r.result] ?? r.result} (dry run)\n`);
      const groups = Object.entries(out.xds as Record<string, Record<string, { added: string[]; changed: string[]; removed: string[] }>>);
      if (!groups.length) ctx.write('no proxy would be sent anything new\n');
      for (const [group, types] of groups) {
        ctx.write(`\n${color('bold', group)}\n`);
        for (const [type, d] of Object.entries(types)) {
          for (const n of d.added) ctx.write(`  ${color('green', `+ ${type} ${n}`)}\n`);
          for (const n of d.changed) ctx.write(`  ${color('yellow', `~ ${type} ${n}`)}\n`);
          for (const n of d.removed) ctx.write(`  ${color('red', `- ${type} ${n}`)}\n`);
        }
      }
      for (const r of out.refused) ctx.write(color('red', `refused by Envoy's rules: ${r.group} ${r.type} ${r.name}: ${r.violations.join('; ')}`) + '\n');
      for (const i of out.issues) ctx.write(`${i.severity}: ${i.kind} ${i.name}${i.field ? ` ${i.field}` : ''}: ${i.message}\n`);
    });
}

async function describe(ctx: Context, kind: Kind, name: string, service?: string): Promise<void> {
  const c = ctx.client();
  const r = await c.get(pathOf(kind, name, service));
  if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print(r);
  ctx.write(`${color('bold', `${kind} ${r.service ? `${r.service}/` : ''}${r.name}`)}   version ${r.version}, created ${r.createdAt}, updated ${r.updatedAt}\n`);
  if (Object.keys(r.labels ?? {}).length) ctx.write(`Labels: ${Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(', ')}\n`);
  ctx.write(`Spec:\n${indent(YAML.stringify(r.spec, { lineWidth: 0 }))}`);
  const t = r.status?.translation;
  const conditions = [...(t?.errors ?? []).map((e: any) => ({ ...e, severity: 'error' })), ...(t?.warnings ?? []).map((w: any) => ({ ...w, severity: 'warning' }))];
  ctx.write(`Conditions:${conditions.length ? '\n' : ' none\n'}`);
  for (const x of conditions) ctx.write(`  ${x.severity === 'error' ? color('red', 'Error') : color('yellow', x.reason ?? 'Warning')}${x.group ? ` [${x.group}]` : ''}${x.field ? ` ${x.field}` : ''}: ${x.message}\n`);
  if (r.status?.rollout) {
    const s = r.status.rollout;
    ctx.write(`Rollout: ${s.phase}, step ${s.step}/${r.spec.steps.length}, weights ${s.weights.stable}/${s.weights.canary}: ${s.message}\n`);
  }
  const refs = await referrers(ctx, kind, r);
  ctx.write(`Referred to by:${refs.length ? ` ${refs.join(', ')}` : ' nothing'}\n`);
  if (kind === 'Service') {
    const eps = await c.list(pathOf('Endpoint', undefined, r.name));
    const rows = [];
    for (const e of eps) {
      const full = await c.get(pathOf('Endpoint', e.name, r.name)).catch(() => e);
      const check = full.status?.check;
      rows.push([e.name, `${e.spec.address}:${e.spec.port}`, e.status?.health?.state ?? e.spec.health ?? 'unknown', check ? `${check.state}${check.lastProbe ? ` (${check.lastProbe.detail}, ${check.lastProbe.at})` : ''}` : '-', e.status?.ephemeral ? 'heartbeat' : 'registry']);
    }
    ctx.write(`Endpoints:${rows.length ? '\n' + indent(table(['NAME', 'ADDRESS', 'HEALTH', 'LAST CHECK', 'SOURCE'], rows)) : ' none\n'}`);
  }
}

/** What refers to a resource, found by reading the kinds that can refer to it. */
async function referrers(ctx: Context, kind: Kind, r: any): Promise<string[]> {
  const c = ctx.client();
  const out: string[] = [];
  if (kind === 'Service' || kind === 'Policy')
    for (const route of await c.list('/api/v1/routes'))
      if ((kind === 'Service' && route.spec.rules.some((rule: any) => rule.backends.some((b: any) => b.service === r.name))) || (kind === 'Policy' && (route.spec.policies ?? []).includes(r.name))) out.push(`route/${route.name}`);
  if (kind === 'Policy') for (const s of await c.list('/api/v1/services')) if ((s.spec.policies ?? []).includes(r.name)) out.push(`service/${s.name}`);
  if (kind === 'Route' || kind === 'Policy')
    for (const l of await c.list('/api/v1/listeners')) if ((kind === 'Route' ? l.spec.routes : (l.spec.policies ?? [])).includes(r.name)) out.push(`listener/${l.name}`);
  if (kind === 'Service' || kind === 'Route')
    for (const ro of await c.list('/api/v1/rollouts')) if ((kind === 'Service' && ro.spec.service === r.name) || (kind === 'Route' && (ro.spec.routes ?? []).includes(r.name))) out.push(`rollout/${ro.name}`);
  return out;
}

const indent = (s: string) => s.split('\n').map((l) => (l ? `  ${l}` : l)).join('\n');
