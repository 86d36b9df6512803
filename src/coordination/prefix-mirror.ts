import type { Logger } from '@nestjs/common';
import type { Coordination, KeyValue, Watch, WatchEvent } from './coordination.js';

/** What a PrefixMirror's owner does with what it reads. */
export interface MirrorHandlers {
  /** The whole prefix, as listed (at start and after every watch failure). */
  reset(kvs: KeyValue[]): void;
  /** One change after the listing. */
  event(e: WatchEvent): void;
  /** The watch failed; a re-list follows. */
  down?(err: Error): void;
}

/**
 * Keeps a local copy of a key prefix: lists it, watches from the next
 * revision, and on any watch error (compaction included: etcd3 reports it as a
 * bare "Watcher canceled") lists everything again after a pause. Until the
 * re-list succeeds the owner keeps what it has (fail static).
 */
export class PrefixMirror {
  private watch?: Watch;
  private retry?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly coord: Coordination,
    private readonly prefix: string,
    private readonly handlers: MirrorHandlers,
    private readonly log: Logger,
    private readonly retryMs = 1000,
  ) {}

  /** First listing; on failure, keeps retrying in the background. */
  async start(): Promise<void> {
    await this.sync().catch(() => this.later());
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.watch?.cancel();
  }

  private async sync(): Promise<void> {
    if (this.stopped) return;
    const { kvs, revision } = await this.coord.list(this.prefix);
    if (this.stopped) return;
    this.handlers.reset(kvs);
    this.watch?.cancel();
    this.watch = this.coord.watch(this.prefix, revision + 1, {
      event: (e) => this.handlers.event(e),
      error: (err) => {
        this.handlers.down?.(err);
        this.log.warn(`watch on ${this.prefix} failed (${err.message}); re-reading everything`);
        this.later();
      },
    });
  }

  private later(): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.sync().catch(() => this.later()), this.retryMs);
    this.retry.unref();
  }
}
