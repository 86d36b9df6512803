import { statSync } from 'node:fs';

/** What identifies one version of a file: a replaced file (new inode) or a rewritten one (mtime, size) both count. */
function signature(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch (e) {
    return `missing:${(e as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

/** A running watch; `stop()` ends it. */
export interface FileWatch {
  stop(): void;
  /** Looks now instead of waiting for the next tick (tests, SIGHUP-style reloads). */
  check(): void;
}

/**
 * Polls `paths` every `intervalMs` and calls `onChange` when any of them
 * changed since the last successful call. Polling rather than fs.watch: the
 * usual way to rotate a certificate (Kubernetes secret volumes, cert-manager,
 * `mv new old`) replaces the file, and fs.watch stops seeing a replaced file.
 *
 * `onChange` returns false when the new content is not usable yet (a key
 * written before its certificate): the old signatures are kept, so the next
 * tick tries again instead of missing the change for good.
 */
export function watchFiles(paths: string[], intervalMs: number, onChange: () => boolean): FileWatch {
  let seen = paths.map(signature).join('|');
  const check = () => {
    const now = paths.map(signature).join('|');
    if (now === seen) return;
    if (onChange()) seen = now;
  };
  const timer = setInterval(check, intervalMs);
  timer.unref(); // a watch never keeps the process alive by itself
  return { stop: () => clearInterval(timer), check };
}
