import { Command, CommanderError } from 'commander';
import { CliError } from './client.js';
import { configCommands } from './commands/config.js';
import { demoCommand } from './commands/demo.js';
import { endpointCommands } from './commands/endpoints.js';
import { historyCommands } from './commands/history.js';
import { CLI_VERSION, miscCommands } from './commands/misc.js';
import { proxyCommands } from './commands/proxies.js';
import { resourceCommands } from './commands/resources.js';
import { rolloutCommands } from './commands/rollout.js';
import { tokenCommands } from './commands/tokens.js';
import { type GlobalOptions, makeContext } from './context.js';
import { color } from './output.js';

/**
 * `switchyard`: the command line, in the style of kubectl. It talks to the
 * REST API only. Exit codes: 0 ok, 1 a failed call (or diff found differences,
 * or a rollout failed), 2 bad usage.
 */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('switchyard')
    .description('Switchyard control plane: apply and inspect resources, run rollouts, see what proxies hold')
    .version(CLI_VERSION, '--version', 'the client version')
    .option('--server <url>', 'Switchyard REST address (env SWITCHYARD_SERVER)', process.env.SWITCHYARD_SERVER ?? 'http://localhost:8080')
    .option('--token <token>', 'API token (env SWITCHYARD_TOKEN)', process.env.SWITCHYARD_TOKEN)
    .option('-o, --output <format>', 'table, wide, yaml or json', 'table')
    .showHelpAfterError('(run switchyard --help for usage)')
    .exitOverride();
  const ctx = makeContext(() => program.opts<GlobalOptions>());
  resourceCommands(program, ctx);
  endpointCommands(program, ctx);
  rolloutCommands(program, ctx);
  proxyCommands(program, ctx);
  historyCommands(program, ctx);
  configCommands(program, ctx);
  tokenCommands(program, ctx);
  demoCommand(program, ctx);
  miscCommands(program, ctx);
  for (const c of program.commands) c.exitOverride();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof CliError) {
      process.stderr.write(`${color('red', 'error:', process.stderr)} ${e.message}\n${e.lines.map((l) => `${l}\n`).join('')}`);
      return e.exitCode;
    }
    process.stderr.write(`${color('red', 'error:', process.stderr)} ${(e as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
