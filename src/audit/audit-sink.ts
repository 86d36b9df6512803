import { createWriteStream, type WriteStream } from 'node:fs';

/** Where audit events are shipped as JSON lines (AUDIT_LOG). */
export interface AuditSink {
  write(event: object): void;
  close(): Promise<void>;
}

/**
 * The sink AUDIT_LOG names: `stdout`, `off`, or a file appended to. One JSON
 * object per line, written as the event happens (not when it is stored), so
 * a log shipper sees events even while the database is down. `onError` hears
 * of a file that cannot be written; the write path never does.
 */
export function openAuditSink(target: string, onError: (e: Error) => void): AuditSink {
  if (target === 'off') return { write: () => undefined, close: async () => undefined };
  if (target === 'stdout') return { write: (e) => void process.stdout.write(`${JSON.stringify(e)}\n`), close: async () => undefined };
  let stream: WriteStream | undefined = createWriteStream(target, { flags: 'a' });
  stream.on('error', (e) => {
    onError(e);
    stream = undefined; // stop writing to a broken file rather than fail on every event
  });
  return {
    write: (e) => void stream?.write(`${JSON.stringify(e)}\n`),
    close: () => new Promise<void>((resolve) => (stream ? stream.end(resolve) : resolve())),
  };
}
