import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WireUpdate } from './transports.js';

/** What the cache keeps of a config: enough to start on it with the control plane down. */
export type CachedConfig = Omit<WireUpdate, 'deleted' | 'synced'>;

/**
 * The on-disk cache: one JSON file per config under
 * `<dir>/<namespace>/<group>/<name>.json`, written to a temporary file and
 * renamed, so a crash mid-write never leaves a torn file behind.
 */
export class DiskCache {
  constructor(private readonly dir: string) {}

  private folder(namespace: string, group: string): string {
    return join(this.dir, namespace, group);
  }

  /** Every cached config of a group (a file that does not parse is skipped). */
  async load(namespace: string, group: string): Promise<CachedConfig[]> {
    const dir = this.folder(namespace, group);
    let files: string[];
    try {
      files = await readdir(dir);
    } catch {
      return [];
    }
    const out: CachedConfig[] = [];
    for (const f of files.filter((x) => x.endsWith('.json'))) {
      try {
        const c = JSON.parse(await readFile(join(dir, f), 'utf8')) as CachedConfig;
        if (c.name && Number.isInteger(c.revision) && typeof c.content === 'string') out.push(c);
      } catch {
        /* torn or foreign: ignore */
      }
    }
    return out;
  }

  async save(u: WireUpdate): Promise<void> {
    const dir = this.folder(u.namespace, u.group);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${u.name}.json`);
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    const c: CachedConfig = { namespace: u.namespace, group: u.group, name: u.name, revision: u.revision, format: u.format, content: u.content, gray: u.gray };
    await writeFile(tmp, JSON.stringify(c));
    await rename(tmp, file);
  }

  async remove(namespace: string, group: string, name: string): Promise<void> {
    await rm(join(this.folder(namespace, group), `${name}.json`), { force: true });
  }
}
