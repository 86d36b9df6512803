import YAML from 'yaml';
import { Client, CliError } from './client.js';
import { FORMATS, type Format } from './output.js';

/** What every command gets: the server client from the global options, the output format, and output. */
export interface Context {
  client(): Client;
  format(): Format;
  /** Writes text to stdout. */
  write(text: string): void;
  /** Prints data as JSON or YAML (as -o says; YAML for table formats). */
  print(data: unknown): void;
  /** Sets the process exit code (e.g. diff's 1 when resources differ). */
  exitCode(code: number): void;
}

export interface GlobalOptions {
  server: string;
  token?: string;
  output: string;
}

export function makeContext(opts: () => GlobalOptions): Context {
  return {
    client: () => new Client({ server: opts().server, token: opts().token, actor: process.env.SWITCHYARD_ACTOR ?? `cli/${process.env.USER ?? 'user'}` }),
    format: () => {
      const f = opts().output as Format;
      if (!FORMATS.includes(f)) throw new CliError(`-o ${f}: one of ${FORMATS.join(', ')}`, [], 2);
      return f;
    },
    write: (text) => void process.stdout.write(text),
    print(data) {
      process.stdout.write(this.format() === 'json' ? JSON.stringify(data, null, 2) + '\n' : YAML.stringify(data, { lineWidth: 0 }));
    },
    exitCode: (code) => void (process.exitCode = code),
  };
}
