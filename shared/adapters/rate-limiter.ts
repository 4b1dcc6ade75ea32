import { TokenBucket } from '../domain/token-bucket.ts';

/**
 * A token bucket callers wait on: `take()` resolves when a call may go out. `pauseUntil` holds
 * every caller back, e.g. until an API's Retry-After after a 429.
 */
export class RateLimiter {
  private readonly bucket: TokenBucket;
  private pausedUntil = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    perSecond: number,
    burst: number = Math.max(1, Math.ceil(perSecond)),
    private readonly clock: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    this.bucket = new TokenBucket(perSecond, burst, clock());
  }

  get ratePerSecond(): number {
    return this.bucket.perSecond;
  }

  /** Changes the pace from now on (an adaptive caller slowing to what the API grants). */
  setRate(perSecond: number): void {
    this.bucket.retune(perSecond, this.clock());
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
    this.bucket.drain(this.clock());
  }

  private async waitForToken(): Promise<void> {
    for (;;) {
      const now = this.clock();
      if (now < this.pausedUntil) {
        await this.sleep(this.pausedUntil - now);
        continue;
      }
      if (this.bucket.tryTake(now)) return;
      await this.sleep(Math.max(1, Math.ceil(this.bucket.msUntilToken(now))));
    }
  }
}
