import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import YAML from 'yaml';
import { PACKAGE_ROOT } from '../../common/paths.js';
import { CliError } from '../client.js';
import type { Context } from '../context.js';

const EXAMPLES = join(PACKAGE_ROOT, 'examples');

/** Starts an example backend and waits for its "listening on" line. */
function backend(name: string, children: ChildProcess[]): Promise<number> {
  const child = spawn(process.execPath, [join(EXAMPLES, 'echo-backend.mjs'), '--name', name], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(b.toString());
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new CliError(`the ${name} backend exited (${code})`)));
  });
}

export function demoCommand(program: Command, ctx: Context): void {
  program
    .command('demo')
    .description('start two example backends, apply the quick start with their ports, and print the live split of a gRPC client')
    .option('--xds <host:port>', 'the xDS address clients use (default: the server host, port 18000)')
    .option('--seconds <n>', 'stop after this long (default: until Ctrl-C)', (v) => Number(v), 0)
    .action(async (o: { xds?: string; seconds: number }) => {
      const c = ctx.client();
      const xds = o.xds ?? `${new URL(c.server).hostname}:18000`;
      const children: ChildProcess[] = [];
      const stop = () => {
        for (const ch of children) if (ch.exitCode === null) ch.kill('SIGTERM');
      };
      process.on('SIGINT', () => {
        stop();
        process.exit(0);
      });
      try {
        const [v1, v2] = await Promise.all([backend('v1', children), backend('v2', children)]);
        const docs = YAML.parseAllDocuments(readFileSync(join(EXAMPLES, 'quick-start.yaml'), 'utf8')).map((d) => d.toJS());
        for (const d of docs) if (d.kind === 'Endpoint') d.spec.port = d.spec.labels.version === 'v1' ? v1 : v2;
        const out = await c.request('POST', '/api/v1/apply', docs);
        ctx.write(`backends v1 on :${v1}, v2 on :${v2}; applied the quick start (${out.results.map((r: any) => `${r.kind.toLowerCase()}/${r.name} ${r.result}`).join(', ')})\n`);
        ctx.write(`shift the split from another terminal, e.g.: switchyard get route echo -o yaml > r.yaml; edit the weights; switchyard apply -f r.yaml\n`);
        const client = spawn(process.execPath, [join(EXAMPLES, 'split-client.mjs'), '--xds', xds, '--host', 'echo', '--seconds', String(o.seconds)], { stdio: ['ignore', 'inherit', 'inherit'] });
        children.push(client);
        await new Promise<void>((resolve) => client.on('exit', () => resolve()));
      } finally {
        stop();
      }
    });
}
