/**
 * A token bucket: `burst` tokens, refilled continuously at `perSecond`. Pure arithmetic over a
 * clock the caller passes in, so the API's throttle (refuse now), the backfill's rate limiter
 * (wait for a token) and the Management API stand-in (answer 429 with x-ratelimit-* headers)
 * all count the same way.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;
  private rate: number;

  constructor(
    perSecond: number,
    readonly burst: number,
    now: number,
  ) {
    checkRate(perSecond);
    if (!(burst >= 1)) throw new RangeError('TokenBucket: burst must be at least 1');
    this.rate = perSecond;
    this.tokens = burst;
    this.refilledAt = now;
  }

  /** Tokens added per second. */
  get perSecond(): number {
    return this.rate;
  }

  /**
   * Changes the refill rate from `now` on: what refilled until now counts at the old rate, so
   * an adaptive pace can slow down or speed up without losing or inventing tokens.
   */
  retune(perSecond: number, now: number): void {
    checkRate(perSecond);
    this.refill(now);
    this.rate = perSecond;
  }

  /** Takes a token if one is there at `now`; false leaves the bucket as it was. */
  tryTake(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds from `now` until a token is there (0 when one is). */
  msUntilToken(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.rate) * 1000;
  }

  /** Whole tokens left at `now`. */
  remaining(now: number): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }

  /**
   * Epoch milliseconds at which the next whole token is added, seen from `now` (`now` when the
   * bucket is full): Auth0's x-ratelimit-reset, "when additional requests will be added".
   */
  nextTokenAt(now: number): number {
    this.refill(now);
    if (this.tokens >= this.burst) return now;
    return now + ((Math.floor(this.tokens) + 1 - this.tokens) / this.rate) * 1000;
  }

  /** Epoch milliseconds at which the bucket is full again, seen from `now`. */
  fullAt(now: number): number {
    this.refill(now);
    return now + ((this.burst - this.tokens) / this.rate) * 1000;
  }

  /** Empties the bucket: the API said the budget is spent, so no burst follows a pause. */
  drain(now: number): void {
    this.tokens = 0;
    this.refilledAt = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(
      this.burst,
      this.tokens + (Math.max(0, now - this.refilledAt) / 1000) * this.rate,
    );
    this.refilledAt = Math.max(this.refilledAt, now);
  }
}

function checkRate(perSecond: number): void {
  if (!(perSecond > 0) || !Number.isFinite(perSecond)) {
    throw new RangeError('TokenBucket: perSecond must be a positive number');
  }
}
