import type { Logger } from '@nestjs/common';
import { CompactedError, type Coordination, type KeyValue, type Watch, type WatchEvent } from './coordination.js';
import { type CoordinationMetrics, RELIST_REASONS, type RelistReason } from './coordination-metrics.js';

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
 * revision, and when the watch fails lists everything again: at once when its
 * start revision was compacted away (coordination answered, only the history
 * is gone), after a pause on any other error. Until the re-list succeeds the
 * owner keeps what it has (fail static). Each re-list that succeeds counts in
 * `switchyard_coordination_relists_total{prefix,reason}`.
 */
export class PrefixMirror {
  private watch?: Watch;
  private retry?: NodeJS.Timeout;
  private stopped = false;
  /** Why the next successful listing is a re-list; undefined before the first one and after it. */
  private pending?: RelistReason;

  constructor(
    private readonly coord: Coordination,
    private readonly prefix: string,
    private readonly handlers: MirrorHandlers,
    private readonly log: Logger,
    private readonly metrics?: CoordinationMetrics,
    private readonly retryMs = 1000,
  ) {
    // Every reason shows at 0 from the start: a missing sample means a missing mirror, not "no re-list".
    for (const reason of RELIST_REASONS) metrics?.relists.inc({ prefix, reason }, 0);
  }

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
    if (this.pending) this.metrics?.relists.inc({ prefix: this.prefix, reason: this.pending });
    this.pending = undefined;
    this.watch?.cancel();
    this.watch = this.coord.watch(this.prefix, revision + 1, {
      event: (e) => this.handlers.event(e),
      error: (err) => {
        const compacted = err instanceof CompactedError;
        this.pending = compacted ? 'compacted' : 'error';
        this.handlers.down?.(err);
        this.log.warn(`watch on ${this.prefix} failed (${compacted ? 'compacted: ' : ''}${err.message}); re-reading everything`);
        this.later(compacted ? 0 : this.retryMs);
      },
    });
  }

  private later(ms = this.retryMs): void {
    if (this.stopped) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.sync().catch(() => this.later()), ms);
    this.retry.unref();
  }
}
