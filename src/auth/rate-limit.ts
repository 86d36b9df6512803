/**
 * Token buckets per identity: each refills at `rps` up to `burst`. Kept in
 * memory per replica; idle full buckets are dropped, so memory follows the
 * callers of the last minute, not every identity ever seen.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  constructor(
    private readonly rps: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one request from `id`'s bucket: 0 when allowed, else the seconds until one is (at least 1). */
  take(id: string): number {
    if (this.rps <= 0) return 0;
    const t = this.now();
    this.sweep(t);
    const b = this.buckets.get(id) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rps);
    b.at = t;
    this.buckets.set(id, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.rps));
  }

  private sweep(t: number): void {
    if (t - this.lastSweep < 60_000) return;
    this.lastSweep = t;
    for (const [id, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * this.rps >= this.burst) this.buckets.delete(id);
  }
}
