/**
 * A token bucket callers wait on: `take()` resolves when a call may go out. `pauseUntil` holds
 * every caller back, e.g. until an API's Retry-After after a 429.
 */
export class RateLimiter {
  private tokens: number;
  private refilledAt: number;
  private pausedUntil = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number = Math.max(1, Math.ceil(perSecond)),
    private readonly clock: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) {
      throw new RangeError('RateLimiter: perSecond must be a positive number');
    }
    if (!(burst >= 1)) throw new RangeError('RateLimiter: burst must be at least 1');
    this.tokens = burst;
    this.refilledAt = clock();
  }

  get ratePerSecond(): number {
    return this.perSecond;
  }

  /** Callers are served in order; each waits for its token. */
  take(): Promise<void> {
    const turn = this.queue.then(() => this.waitForToken());
    this.queue = turn.catch(() => {});
    return turn;
  }

  /**
   * Holds every caller back until `epochMs` (never shortens an earlier pause). The API just
   * said its budget is spent, so the bucket is emptied too: after the pause only what refilled
   * meanwhile goes out, not a whole burst into a bucket that is still nearly empty.
   */
  pauseUntil(epochMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, epochMs);
    this.tokens = 0;
    this.refilledAt = this.clock();
  }

  private async waitForToken(): Promise<void> {
    for (;;) {
      const now = this.clock();
      if (now < this.pausedUntil) {
        await this.sleep(this.pausedUntil - now);
        continue;
      }
      this.tokens = Math.min(
        this.burst,
        this.tokens + (Math.max(0, now - this.refilledAt) / 1000) * this.perSecond,
      );
      this.refilledAt = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await this.sleep(Math.max(1, Math.ceil(((1 - this.tokens) / this.perSecond) * 1000)));
    }
  }
}
