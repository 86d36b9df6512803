import { AsyncResource } from 'node:async_hooks';

/** The outcome of one queued item: its value, or the error that item alone gets. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

interface Waiting<I, O> {
  item: I;
  resolve: (v: O) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: items submitted while a batch is being written wait and go
 * together in the next one, so N concurrent writers pay for one transaction
 * instead of N. Batches run one at a time, in submission order, and a batch
 * starts as soon as the previous one is done (nothing waits for a timer: a
 * lone writer is written at once). `run` answers each item separately, so one
 * item's refusal does not fail the others; if `run` itself throws, every
 * item of that batch gets that error.
 */
export class GroupCommit<I, O> {
  private queue: Waiting<I, O>[] = [];
  private running = false;
  /**
   * Batches run in the context the committer was made in, not in that of
   * whichever writer happened to start the drain: a batch serves many
   * requests, so it must not carry one of them (its request id, its span).
   */
  private readonly home = new AsyncResource('GroupCommit');

  constructor(
    private readonly run: (items: I[]) => Promise<Settled<O>[]>,
    /** Most items in one batch (bounds one transaction's statements and the latency of its first writer). */
    private readonly maxBatch = 256,
  ) {}

  /** Queues `item`; resolves or rejects with its own outcome once its batch is written. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) this.home.runInAsyncScope(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.maxBatch);
        let out: Settled<O>[];
        try {
          out = await this.run(batch.map((w) => w.item));
        } catch (e) {
          for (const w of batch) w.reject(e);
          continue;
        }
        batch.forEach((w, i) => {
          const o = out[i];
          if (!o) w.reject(new Error('internal: group commit left an item without an outcome'));
          else if (o.ok) w.resolve(o.value);
          else w.reject(o.error);
        });
      }
    } finally {
      this.running = false;
    }
  }
}
