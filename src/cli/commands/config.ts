import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { CONFIG_FORMATS } from '../../model/resources.js';
import { type Client, CliError } from '../client.js';
import type { Context } from '../context.js';
import { type ConfigId, configId, configPath } from '../kinds.js';
import { age, color, grayTarget, render, table } from '../output.js';

const text = (id: ConfigId) => `${id.namespace}/${id.group}/${id.name}`;

/** An option value that must be an integer in [min, max] (commander turns the throw into a usage error, exit 2). */
const integer = (what: string, min: number, max = Number.MAX_SAFE_INTEGER) => (v: string): number => {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < min || n > max) throw new InvalidArgumentError(`must be ${what}`);
  return n;
};
const revision = integer('a revision (an integer >= 1)', 1);

/** `If-Match` from --if-version (or a version just read), else nothing. */
const ifMatch = (version?: number): Record<string, string> => (version === undefined ? {} : { 'if-match': `"${version}"` });

const EXTENSIONS: Record<string, string> = { '.yaml': 'yaml', '.yml': 'yaml', '.json': 'json', '.properties': 'properties' };

/**
 * The format of `-f FILE`: --format when given, else the file's extension
 * (.yaml/.yml, .json, .properties; anything else is text). Stdin has no
 * extension, so it takes the config name's (checkout.yaml is yaml).
 */
export function formatOf(file: string, configName: string, given?: string): string {
  const f = given ?? EXTENSIONS[extname(file === '-' ? configName : file).toLowerCase()] ?? 'text';
  if (!(CONFIG_FORMATS as readonly string[]).includes(f)) throw new CliError(`--format ${f}: one of ${CONFIG_FORMATS.join(', ')}`, [], 2);
  return f;
}

/** The bytes of `-f FILE` (or stdin for `-`) as text. */
function readContent(file: string): string {
  if (file === '-') return readFileSync(0, 'utf8');
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `${file}: no such file` : code === 'EISDIR' ? `${file}: is a directory (a config is one file)` : `${file}: ${(e as Error).message}`);
  }
}

/** The config, or undefined when there is none (404). */
const getOrNone = (c: Client, id: ConfigId): Promise<any> =>
  c.get(configPath(id)).catch((e) => {
    if (e instanceof CliError && e.status === 404) return undefined;
    throw e;
  });

const structured = (ctx: Context) => ctx.format() === 'json' || ctx.format() === 'yaml';

/** A unified diff, coloured on a terminal, without the ===== line the diff package starts with. */
function writeDiff(ctx: Context, diff: string): void {
  const lines = diff.replace(/\n$/, '').split('\n');
  if (lines[0]?.startsWith('====')) lines.shift();
  for (const line of lines)
    ctx.write((line.startsWith('+') && !line.startsWith('+++') ? color('green', line) : line.startsWith('-') && !line.startsWith('---') ? color('red', line) : line.startsWith('@@') ? color('cyan', line) : line) + '\n');
}

/**
 * `switchyard config ...`: the config centre. Configs are named
 * namespace/group/name; every change is a revision (history, diff, rollback);
 * a gray release sends candidate content to the instances its target picks
 * until it is promoted or aborted; instances shows who was sent and applied what.
 */
export function configCommands(program: Command, ctx: Context): void {
  const config = program.command('config').description('the config centre: application configs, their revisions, gray releases, and the instances holding them');

  config
    .command('get')
    .description('list configs (of a namespace, of a group), or get one; --content prints only its content')
    .argument('[config]', 'namespace/group/name')
    .option('-n, --namespace <namespace>', 'list the configs of this namespace')
    .option('-g, --group <group>', 'list the configs of this group (with --namespace)')
    .option('-l, --selector <selector>', 'list the configs whose labels match, e.g. team=pay')
    .option('--content', 'print only the content, as stored (for piping)')
    .option('--revision <n>', 'the config as written in that revision', revision)
    .action(async (arg: string | undefined, o: { namespace?: string; group?: string; selector?: string; content?: boolean; revision?: number }) => {
      const c = ctx.client();
      if (!arg) {
        if (o.content || o.revision !== undefined) throw new CliError('--content and --revision need a config: switchyard config get namespace/group/name', [], 2);
        if (o.group !== undefined && o.namespace === undefined) throw new CliError('--group needs --namespace', [], 2);
        const q = new URLSearchParams({ ...(o.namespace ? { namespace: o.namespace } : {}), ...(o.group ? { group: o.group } : {}), ...(o.selector ? { labelSelector: o.selector } : {}) }).toString();
        return ctx.write(render('Config', await c.list(`/api/v1/configs${q ? `?${q}` : ''}`), ctx.format()));
      }
      if (o.namespace !== undefined || o.group !== undefined || o.selector !== undefined) throw new CliError('--namespace, --group and --selector are for listing: give either them or a config', [], 2);
      const id = configId(arg);
      const r = await c.get(o.revision === undefined ? configPath(id) : configPath(id, `/history/${o.revision}`));
      ctx.write(o.content ? r.spec.content : render('Config', [r], ctx.format()));
    });

  config
    .command('apply')
    .description('create a config or change its content from a file: a new revision when the content or format changed (labels and a running gray release are kept)')
    .argument('<config>', 'namespace/group/name')
    .requiredOption('-f, --filename <path>', 'the content: a file, or - for stdin')
    .option('--format <format>', `${CONFIG_FORMATS.join(', ')} (default: from the file extension, else text; for stdin, from the config name)`)
    .option('--if-version <n>', 'only if the config is at this version (If-Match)', revision)
    .action(async (arg: string, o: { filename: string; format?: string; ifVersion?: number }) => {
      const id = configId(arg);
      const format = formatOf(o.filename, id.name, o.format);
      const content = readContent(o.filename);
      const c = ctx.client();
      const before = await getOrNone(c, id);
      // A merge patch of the spec keeps labels and a gray release; PUT creates.
      const r = before
        ? await c.request('PATCH', configPath(id), { spec: { format, content } }, ifMatch(o.ifVersion))
        : await c.request('PUT', configPath(id), { spec: { format, content } }, ifMatch(o.ifVersion));
      if (structured(ctx)) return ctx.print(r);
      ctx.write(`${!before ? 'created' : r.version === before.version ? 'unchanged' : 'updated'} ${text(id)} revision ${r.version}\n`);
    });

  config
    .command('history')
    .description('the revisions of a config, newest first: who wrote each, and the size of its content')
    .argument('<config>', 'namespace/group/name')
    .option('--limit <n>', 'only the newest n revisions', integer('an integer >= 1', 1))
    .action(async (arg: string, o: { limit?: number }) => {
      const id = configId(arg);
      const items: any[] = [];
      let before: number | undefined;
      do {
        const want = Math.min(1000, (o.limit ?? Infinity) - items.length);
        const page = await ctx.client().get(configPath(id, `/history?limit=${want}${before ? `&before=${before}` : ''}`));
        items.push(...page.items);
        before = page.nextBefore;
      } while (before && items.length < (o.limit ?? Infinity));
      if (structured(ctx)) return ctx.print(items);
      ctx.write(table(['REVISION', 'OP', 'ACTOR', 'AGE', 'FORMAT', 'SIZE', 'GRAY'], items.map((h) => [h.revision, h.op, h.actor, age(h.at), h.format ?? '-', h.size ?? '-', h.gray ? grayTarget(h.gray.target) : '-'])));
    });

  config
    .command('diff')
    .description('a unified diff of the content between two revisions (--to defaults to the current one)')
    .argument('<config>', 'namespace/group/name')
    .requiredOption('--from <n>', 'the older revision', revision)
    .option('--to <n>', 'the newer revision (default: current)', revision)
    .action(async (arg: string, o: { from: number; to?: number }) => {
      const id = configId(arg);
      const r = await ctx.client().get(configPath(id, `/diff?from=${o.from}${o.to !== undefined ? `&to=${o.to}` : ''}`));
      if (structured(ctx)) return ctx.print(r);
      writeDiff(ctx, r.diff);
    });

  config
    .command('rollback')
    .description('restore a revision\'s content for everyone, as a new revision (a running gray release is dropped; restores a deleted config)')
    .argument('<config>', 'namespace/group/name')
    .requiredOption('--to <n>', 'the revision whose content to restore', revision)
    .option('--if-version <n>', 'only if the config is at this version (If-Match)', revision)
    .action(async (arg: string, o: { to: number; ifVersion?: number }) => {
      const id = configId(arg);
      const r = await ctx.client().request('POST', configPath(id, '/rollback'), { revision: o.to }, ifMatch(o.ifVersion));
      if (structured(ctx)) return ctx.print(r);
      ctx.write(`rolled back ${text(id)} to revision ${o.to}: revision ${r.version}\n`);
    });

  config
    .command('gray')
    .description('start or change a gray release: candidate content for the instances picked by labels, a percentage, or both; --abort ends it')
    .argument('<config>', 'namespace/group/name')
    .option('-f, --filename <path>', 'the candidate content, or - for stdin (default: the running candidate, to change only the target)')
    .option('--labels <selector>', 'instances whose labels match, e.g. env=gray or zone in (a,b)')
    .option('--percent <n>', 'a share of instances, 0-100 (an instance in at 30 stays in at 50)', integer('an integer from 0 to 100', 0, 100))
    .option('--abort', 'abort the gray release: its instances go back to the current content')
    .option('--if-version <n>', 'only if the config is at this version (If-Match)', revision)
    .action(async (arg: string, o: { filename?: string; labels?: string; percent?: number; abort?: boolean; ifVersion?: number }) => {
      const id = configId(arg);
      const c = ctx.client();
      if (o.abort) {
        if (o.filename !== undefined || o.labels !== undefined || o.percent !== undefined) throw new CliError('--abort takes no -f, --labels or --percent', [], 2);
        const r = await c.request('DELETE', configPath(id, '/gray'), undefined, ifMatch(o.ifVersion));
        if (structured(ctx)) return ctx.print(r);
        return ctx.write(`aborted the gray release of ${text(id)}: revision ${r.version}\n`);
      }
      if (o.labels === undefined && o.percent === undefined) throw new CliError('a gray release needs a target: --labels, --percent or both (or --abort)', [], 2);
      let content: string;
      let version = o.ifVersion;
      if (o.filename !== undefined) content = readContent(o.filename);
      else {
        // Changing only the target: keep the running candidate, guarded by the version read.
        const cur = await c.get(configPath(id));
        if (!cur.spec.gray) throw new CliError(`${text(id)} has no gray release: give the candidate content with -f`, [], 2);
        content = cur.spec.gray.content;
        version ??= cur.version;
      }
      const target = { ...(o.labels !== undefined ? { labels: o.labels } : {}), ...(o.percent !== undefined ? { percent: o.percent } : {}) };
      const r = await c.request('PUT', configPath(id, '/gray'), { content, target }, ifMatch(version));
      if (structured(ctx)) return ctx.print(r);
      ctx.write(`gray ${text(id)} revision ${r.version} to ${grayTarget(r.spec.gray?.target ?? target)}\n`);
    });

  config
    .command('promote')
    .description('make the gray candidate the content for everyone (409 when there is no gray release)')
    .argument('<config>', 'namespace/group/name')
    .option('--if-version <n>', 'only if the config is at this version (If-Match)', revision)
    .action(async (arg: string, o: { ifVersion?: number }) => {
      const id = configId(arg);
      const r = await ctx.client().request('POST', configPath(id, '/gray/promote'), undefined, ifMatch(o.ifVersion));
      if (structured(ctx)) return ctx.print(r);
      ctx.write(`promoted the gray release of ${text(id)}: revision ${r.version}\n`);
    });

  config
    .command('instances')
    .description('the instances watching a config: which revision each was sent and applied, and whether it is in the gray release')
    .argument('<config>', 'namespace/group/name')
    .action(async (arg: string) => {
      const id = configId(arg);
      const r = await ctx.client().get(configPath(id, '/instances'));
      if (structured(ctx)) return ctx.print(r);
      const wide = ctx.format() === 'wide';
      const head = ['INSTANCE', 'TRANSPORT', 'DELIVERED', 'APPLIED', 'GRAY', 'ERROR', ...(wide ? ['REPLICA', 'LABELS', 'WATCHING', 'SEEN'] : [])];
      const rows = r.items.map((i: any) => [
        i.instanceId,
        i.transport,
        i.delivered ?? '-',
        i.applied ?? '-',
        i.gray ? 'yes' : 'no',
        i.error ?? '-',
        ...(wide ? [i.replica, Object.entries(i.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '-', i.watching ? 'yes' : 'no', age(i.seenAt)] : []),
      ]);
      const s = r.summary;
      ctx.write(`${table(head, rows)}${s.current} current, ${s.gray} gray, ${s.behind} behind, ${s.failed} failed\n`);
    });

  config
    .command('delete')
    .description('delete a config (its history stays: rollback restores it; watchers are told it is gone)')
    .argument('<config>', 'namespace/group/name')
    .option('--if-version <n>', 'only if the config is at this version (If-Match)', revision)
    .action(async (arg: string, o: { ifVersion?: number }) => {
      const id = configId(arg);
      const r = await ctx.client().request('DELETE', configPath(id), undefined, ifMatch(o.ifVersion));
      if (structured(ctx)) return ctx.print(r);
      ctx.write(`deleted ${text(id)}\n`);
    });
}
