#!/usr/bin/env node
/**
 * Builds the product (tsc -p tsconfig.build.json, and the dashboard with Vite) only when a source is newer
 * than the last build, so `npm start` and the `switchyard` command start in a
 * second instead of recompiling every time. `--stamp` only records that a build
 * just happened (npm run build calls it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const stamp = join(root, 'build', '.stamp');
const INPUTS = ['src', 'migrations', 'proto', 'ui', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

function newest(p) {
  if (!existsSync(p)) return 0;
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  let m = 0;
  for (const f of readdirSync(p)) m = Math.max(m, newest(join(p, f)));
  return m;
}

export function markBuilt() {
  writeFileSync(stamp, new Date().toISOString() + '\n');
  const now = new Date();
  utimesSync(stamp, now, now);
}

export function ensureBuilt({ quiet = false } = {}) {
  const built = existsSync(stamp) && existsSync(join(root, 'build/src/main.js')) ? statSync(stamp).mtimeMs : 0;
  const changed = Math.max(...INPUTS.map((i) => newest(join(root, i))));
  if (built && changed <= built) return false;
  if (!quiet) process.stderr.write('switchyard: sources changed since the last build; building...\n');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
  // The dashboard (ui/ → build/ui), when Vite is installed (it is a dev dependency; an image ships it prebuilt).
  const vite = join(root, 'node_modules/vite/bin/vite.js');
  if (existsSync(vite)) execFileSync(process.execPath, [vite, 'build', '--config', join(root, 'ui/vite.config.ts')], { stdio: 'inherit', cwd: root });
  markBuilt();
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes('--stamp')) markBuilt();
  else ensureBuilt();
}
