import type { PGlite } from '@electric-sql/pglite';

/** The parts of Emscripten's FS (inside PGlite) that forgetFailedCreates needs. */
interface EmscriptenFs {
  filesystems?: { NODEFS?: { node_ops?: { mknod?: (...args: unknown[]) => unknown } } };
  lookupNode(parent: unknown, name: string): unknown;
  hashRemoveNode(node: unknown): void;
}

/**
 * Emscripten's NODEFS (PGlite's file layer on Node) registers a new file's
 * node before it creates the file on disk, and keeps the node when that fails
 * (a read-only or full data directory). PostgreSQL then gets "File exists" for
 * a file that is not there, on every retry and after the disk is writable
 * again, until the process restarts. Forgetting the node on failure keeps the
 * real cause in the error and lets writes resume once the disk is fixed.
 */
export function forgetFailedCreates(db: PGlite): void {
  const fs = (db as unknown as { mod?: { FS?: EmscriptenFs } }).mod?.FS;
  const ops = fs?.filesystems?.NODEFS?.node_ops;
  const mknod = ops?.mknod;
  if (!fs || !ops || !mknod) return; // another PGlite build: nothing to mend
  ops.mknod = function (this: unknown, ...args: unknown[]) {
    try {
      return mknod.apply(this, args);
    } catch (e) {
      try {
        fs.hashRemoveNode(fs.lookupNode(args[0], args[1] as string));
      } catch {
        /* not registered after all */
      }
      throw e;
    }
  };
}
