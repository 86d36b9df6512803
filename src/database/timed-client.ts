import type { Socket } from 'node:net';
import pg from 'pg';

/** pg's own members this relies on: the connection's socket, and the query whose answer is awaited (none when idle). */
interface PgInternals {
  connection: { stream: Socket };
  _getActiveQuery?: () => unknown;
}

/** Whether a query awaits an answer; should pg drop the method, every silence counts (closing an idle connection is harmless). */
const busy = (c: PgInternals) => (typeof c._getActiveQuery === 'function' ? Boolean(c._getActiveQuery()) : true);

/**
 * A pg Client class that gives up on a connection the server stopped answering.
 *
 * A network blackhole (a dropped route, a silent firewall, a hung proxy) does
 * not close the socket: without this, a query waits forever, the request that
 * made it hangs instead of answering 503, and the pooled connection is lost
 * for good even after the network heals (the answer it waits for was dropped).
 * When the socket has been silent for `readTimeoutMs` while a query is in
 * flight, the connection is destroyed with ETIMEDOUT: the query fails (mapped
 * to 503 like any connection failure), TypeORM releases the client with the
 * error, and the pool replaces it.
 *
 * An idle connection is silent by nature, so its own silence means nothing;
 * but when one connection times out, the idle ones went through the same
 * network and are as likely dead. They are closed too (the pool reconnects on
 * demand), or after the network heals each would cost one more timeout.
 */
export function timedClient(readTimeoutMs: number): typeof pg.Client {
  const open = new Set<PgInternals>();
  return class TimedClient extends pg.Client {
    override connect(...args: unknown[]): any {
      const self = this as unknown as PgInternals;
      const socket = self.connection.stream;
      open.add(self);
      socket.once('close', () => open.delete(self));
      socket.setTimeout(readTimeoutMs);
      socket.on('timeout', () => {
        if (!busy(self)) return;
        const e = (m: string) => Object.assign(new Error(m), { code: 'ETIMEDOUT' });
        socket.destroy(e(`database connection timed out: no answer in ${readTimeoutMs} ms`));
        for (const other of open) if (other !== self && !busy(other)) other.connection.stream.destroy(e('database connection closed: another connection to the server timed out'));
      });
      return (super.connect as (...a: unknown[]) => unknown)(...args);
    }
  };
}
