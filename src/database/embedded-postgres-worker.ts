/**
 * The embedded database's thread: PGlite and its socket server, started by
 * EmbeddedPostgres. PGlite is WebAssembly that runs to completion on whatever
 * thread calls it, so on the main thread every query stopped the event loop
 * (about 40 % of a registration's CPU). Here it runs on the machine's other
 * core, and the main thread only speaks the wire protocol to it over loopback.
 *
 * Messages: in `workerData` the data directory (or memory://); posted back
 * `{ url }` once the socket server listens, or `{ error }`; a posted 'stop'
 * closes the server and the database, then `{ stopped: true }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { forgetFailedCreates } from './pglite-fs.js';

/** What EmbeddedPostgres hands the thread. */
export interface EmbeddedWorkerData {
  /** `memory://`, or the PGlite data directory (pgdata) on disk. */
  pgdata: string;
}

/** What the thread posts back. */
export type EmbeddedWorkerMessage = { url: string } | { error: string } | { stopped: true };

async function main(): Promise<void> {
  const port = parentPort!;
  const { pgdata } = workerData as EmbeddedWorkerData;
  let db: PGlite;
  let server: PGLiteSocketServer;
  try {
    db = pgdata === 'memory://' ? await PGlite.create() : await PGlite.create(pgdata);
    forgetFailedCreates(db);
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
    await server.start();
  } catch (e) {
    port.postMessage({ error: (e as Error).message ?? String(e) } satisfies EmbeddedWorkerMessage);
    return;
  }
  port.on('message', (m) => {
    if (m !== 'stop') return;
    void (async () => {
      await server.stop().catch(() => undefined);
      await db.close().catch(() => undefined);
      port.postMessage({ stopped: true } satisfies EmbeddedWorkerMessage);
      port.close();
    })();
  });
  port.postMessage({ url: `postgres://postgres@${server.getServerConn()}/postgres?sslmode=disable` } satisfies EmbeddedWorkerMessage);
}

void main();
