#!/usr/bin/env node
// The `switchyard` command (npx switchyard ...): builds once if the sources changed, then runs the CLI.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureBuilt } from '../scripts/build-if-changed.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
ensureBuilt();
await import(pathToFileURL(join(root, 'build/src/cli/main.js')).href);
