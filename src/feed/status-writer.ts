import { Inject, Injectable } from '@nestjs/common';
import { stableJson } from '../common/json.js';
import { idOf, type Kind, keyOf, type Resource } from '../model/resources.js';
import { REGISTRY_STORE, type RegistryStore } from '../registry/store/registry-store.js';
import type { TranslationIssue } from '../translate/types.js';
import type { RegistryMirror } from './registry-mirror.js';

type Entry = { errors: object[]; warnings: object[] };

const entryKey = (r: { kind: Kind; service?: string; namespace?: string; group?: string; name: string }) => idOf(r);

/**
 * Writes translation problems onto each registry resource's
 * `status.translation`, and clears them once fixed. Only differences are
 * written, so a build that changes no status costs no database round trip.
 * Status flows back this way only: it never bumps a version or enters the change log.
 */
@Injectable()
export class StatusWriter {
  /** Status last written per resource (stable JSON). */
  private readonly written = new Map<string, string>();

  constructor(@Inject(REGISTRY_STORE) private readonly store: RegistryStore) {}

  /** Forgets what was written and takes the status the resources carry now (after a full read). */
  reset(resources: Resource[]): void {
    this.written.clear();
    for (const r of resources) {
      const t = r.status.translation as { errors?: unknown; warnings?: unknown } | undefined;
      if (t) this.written.set(entryKey(r), stableJson({ errors: t.errors, warnings: t.warnings }));
    }
  }

  private queue: Promise<void> = Promise.resolve();

  /**
   * Brings every resource's translation status in line with `issues`
   * (resources the mirror does not hold are skipped). Writes run one at a
   * time, in call order, so each one diffs against what the last one stored.
   */
  write(revision: number, issues: TranslationIssue[], mirror: RegistryMirror): Promise<void> {
    const run = this.queue.then(() => this.writeNow(revision, issues, mirror));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async writeNow(revision: number, issues: TranslationIssue[], mirror: RegistryMirror): Promise<void> {
    const wanted = new Map<string, Entry>();
    for (const i of issues) {
      const k = entryKey(i);
      if (!wanted.has(k)) wanted.set(k, { errors: [], warnings: [] });
      const entry = { ...(i.field ? { field: i.field } : {}), ...(i.reason ? { reason: i.reason } : {}), message: i.message, ...(i.group ? { group: i.group } : {}) };
      const list = wanted.get(k)![i.severity === 'error' ? 'errors' : 'warnings'];
      if (!list.some((x) => stableJson(x) === stableJson(entry))) list.push(entry);
    }
    const updates: { key: ReturnType<typeof keyOf>; value: unknown }[] = [];
    const done: [string, string | undefined][] = [];
    for (const k of new Set([...wanted.keys(), ...this.written.keys()])) {
      const want = wanted.get(k);
      const text = want ? stableJson(want) : undefined;
      if (text === this.written.get(k)) continue;
      const r = mirror.byId(k);
      if (!r) {
        this.written.delete(k);
        continue;
      }
      updates.push({ key: keyOf(r), value: want ? { ...want, revision } : null });
      done.push([k, text]);
    }
    await this.store.setStatus('translation', updates);
    // Only once stored: a failed write is retried by the next build.
    for (const [k, text] of done) {
      if (text) this.written.set(k, text);
      else this.written.delete(k);
    }
  }
}
