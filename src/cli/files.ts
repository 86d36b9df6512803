import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { CliError } from './client.js';

const readStdin = () => readFileSync(0, 'utf8');

/** The documents of `-f FILE|DIR|-` (YAML, multi-document, or JSON), in file order; a directory's *.yaml, *.yml and *.json, sorted. */
export function readManifests(paths: string[]): unknown[] {
  const docs: unknown[] = [];
  for (const p of paths) {
    const files = p === '-' ? ['-'] : statOf(p).isDirectory() ? readdirSync(p).filter((f) => /\.(ya?ml|json)$/i.test(f)).sort().map((f) => join(p, f)) : [p];
    for (const f of files) {
      const text = f === '-' ? readStdin() : readFileSync(f, 'utf8');
      const parsed = YAML.parseAllDocuments(text);
      for (const [i, d] of (Array.isArray(parsed) ? parsed : [parsed]).entries()) {
        if (d.errors.length) throw new CliError(`${f === '-' ? 'stdin' : f}: document ${i + 1} is not valid YAML: ${d.errors[0].message.split('\n')[0]}`);
        const v = d.toJS();
        if (v === null || v === undefined) continue;
        docs.push(...(Array.isArray(v) ? v : [v]));
      }
    }
  }
  if (!docs.length) throw new CliError(`no resources in ${paths.join(', ')}`);
  return docs;
}

function statOf(p: string) {
  try {
    return statSync(p);
  } catch {
    throw new CliError(`${p}: no such file or directory`);
  }
}
