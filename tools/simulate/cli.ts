/**
 * `npm run simulate -- [options]` (also `npm run bench -- simulate [options]`):
 * runs the fleet simulation, prints the report, optionally writes JSON.
 * Exit codes: 0 ok, 1 the fleet did not sync/converge (or another failure), 2 bad options.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { OptionError, parseArgs, USAGE } from './options.js';
import { formatReport } from './report.js';
import { runSimulation } from './simulate.js';

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    process.stderr.write(`simulate: ${e.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const o = parsed.options;
  try {
    const result = await runSimulation(o);
    process.stdout.write(`${formatReport(result)}\n`);
    if (o.json) {
      writeFileSync(o.json, `${JSON.stringify(result, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
      process.stderr.write(`simulate: wrote ${o.json}\n`);
    }
    return result.ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`simulate: ${e instanceof Error ? (e.stack ?? e.message) : e}\n`);
    return 1;
  }
}

// Run when executed directly (not when imported by bench/simulate.ts or tests).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Ctrl-C: exit, which stops the spawned control plane (see control-plane.ts); workers follow their IPC channel.
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
  process.exitCode = await main(process.argv.slice(2));
}
