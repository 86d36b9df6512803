import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../common/paths.js';
import type { Context } from '../context.js';
import { KIND_WORDS } from '../kinds.js';

export const CLI_VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export function miscCommands(program: Command, ctx: Context): void {
  program
    .command('version')
    .description('client and server versions')
    .action(async () => {
      const server = await ctx
        .client()
        .get('/api/v1/version')
        .catch((e: Error) => ({ error: e.message }));
      if (ctx.format() === 'json' || ctx.format() === 'yaml') return ctx.print({ client: { version: CLI_VERSION, node: process.version }, server });
      ctx.write(`Client: switchyard ${CLI_VERSION} (node ${process.version})\n`);
      ctx.write('error' in server ? `Server: ${server.error}\n` : `Server: switchyard ${server.version} (node ${server.node}) at ${ctx.client().server}\n`);
    });

  program
    .command('completion')
    .description('print a shell completion script: source <(switchyard completion bash)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      const commands = program.commands.map((c) => c.name()).filter((n) => n !== 'help');
      const sub: Record<string, string[]> = {
        rollout: ['status', 'promote', 'pause', 'resume', 'abort', 'retry', 'history'],
        config: program.commands.find((c) => c.name() === 'config')?.commands.map((c) => c.name()) ?? [], get: KIND_WORDS, describe: KIND_WORDS, delete: KIND_WORDS, history: KIND_WORDS, completion: ['bash', 'zsh'] };
      if (shell === 'bash') {
        ctx.write(`# switchyard bash completion
_switchyard() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cmd="\${COMP_WORDS[1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then COMPREPLY=( $(compgen -W "${commands.join(' ')}" -- "$cur") ); return; fi
  case "$cmd" in
${Object.entries(sub).map(([c, words]) => `    ${c}) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=( $(compgen -W "${words.join(' ')}" -- "$cur") ) ;;`).join('\n')}
    *) COMPREPLY=( $(compgen -f -- "$cur") ) ;;
  esac
}
complete -F _switchyard switchyard
`);
      } else if (shell === 'zsh') {
        ctx.write(`#compdef switchyard
_switchyard() {
  if (( CURRENT == 2 )); then compadd ${commands.join(' ')}; return; fi
  case "$words[2]" in
${Object.entries(sub).map(([c, words]) => `    ${c}) (( CURRENT == 3 )) && compadd ${words.join(' ')} ;;`).join('\n')}
    *) _files ;;
  esac
}
compdef _switchyard switchyard
`);
      } else {
        process.stderr.write(`switchyard completion: ${shell} is not supported: bash or zsh\n`);
        ctx.exitCode(2);
      }
    });
}
