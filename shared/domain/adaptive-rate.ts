/**
 * The rate an API client should send at when the API's budget is below what it was told it
 * may use: AIMD (additive increase, multiplicative decrease), steered by the x-ratelimit-*
 * answers of a token-bucket API such as Auth0's Management API. Pure arithmetic: the adapter
 * (shared/adapters/adaptive-pace.ts) feeds it each answer and paces calls at `rate`.
 *
 * - It starts at half the ceiling.
 * - A 429 halves the rate (the caller also waits until the reset second).
 * - A success whose `remaining` is at or below a low watermark (a quarter of the bucket, 0 for
 *   a bucket under 4) and not rising is an early congestion signal: the bucket is draining, so
 *   the rate is cut, by a tenth at the watermark and up to a third when nothing remains,
 *   before any call is refused.
 * - Any other success adds `increasePerSecond` to the rate per second of sending, up to the
 *   ceiling: the configured rate, which is never exceeded.
 *
 * At most one cut per round trip: after a cut, answers to calls sent before it say nothing
 * about the new rate, so they cannot cut again (as TCP cuts once per window). Each call is
 * numbered when it goes out and its answer carries the number back, so a call that never gets
 * a verdict (a timeout, a 5xx, a network fault) holds nothing up: the next call sent after a
 * cut can cut again, however many answers were lost before it. The bucket never stays full
 * (the rate rises while the remaining count does), so the tenant's refill is used.
 */
export class AdaptiveRate {
  private current: number;
  private sent = 0;
  /** The last call sent before the last cut: answers to it and to older calls are stale. */
  private cutAfter = 0;
  private lastRemaining = Number.POSITIVE_INFINITY;

  constructor(
    /** The configured rate: the most this client may send, whatever the API grants. */
    readonly ceiling: number,
    private readonly options: {
      /** Never slower than this (default 0.1/s, or the ceiling when that is lower). */
      readonly floor?: number;
      /** Rate gained per second of successes (default ceiling / 10). */
      readonly increasePerSecond?: number;
    } = {},
  ) {
    if (!(ceiling > 0) || !Number.isFinite(ceiling)) {
      throw new RangeError('AdaptiveRate: the ceiling must be a positive number');
    }
    // Half the ceiling to begin with: the first answers tell how full the tenant's bucket is,
    // and a run that starts at full speed into a bucket logins share spends it before it knows.
    this.current = ceiling / 2;
  }

  /** Calls per second to send at now. */
  get rate(): number {
    return this.current;
  }

  private get floor(): number {
    return Math.min(this.ceiling, this.options.floor ?? 0.1);
  }

  /** A call went out: its number, to hand back with its answer. */
  onSent(): number {
    this.sent++;
    return this.sent;
  }

  /** The API refused call number `call` (429): halve the rate. */
  onRateLimited(call: number): void {
    this.cut(0.5, call);
    this.lastRemaining = 0;
  }

  /**
   * The API took call number `call` and said `remaining` calls are left in its bucket of
   * `limit`; `undefined` when it sent no such headers (nothing to adapt to: the rate recovers).
   */
  onSuccess(remaining: number | undefined, limit: number | undefined, call: number): void {
    if (remaining === undefined || !Number.isFinite(remaining)) {
      this.increase();
      return;
    }
    const size = limit !== undefined && Number.isFinite(limit) && limit >= 1 ? limit : 4;
    // A quarter of the bucket; 0 for a small one (Free: 2), where "1 left" after a call into
    // a full bucket is the healthy answer.
    const watermark = Math.floor(size / 4);
    const draining = remaining <= watermark && remaining <= this.lastRemaining;
    this.lastRemaining = remaining;
    // The emptier the bucket, the deeper the cut: a tenth at the watermark, a third at 0 (in
    // a small bucket 0 is the watermark, the only warning before a 429).
    if (draining) {
      this.cut(watermark === 0 ? 0.9 : 2 / 3 + ((0.9 - 2 / 3) * remaining) / watermark, call);
    } else if (remaining > watermark) this.increase();
  }

  private cut(factor: number, call: number): void {
    if (call <= this.cutAfter) return;
    this.current = Math.max(this.floor, this.current * factor);
    this.cutAfter = this.sent;
  }

  private increase(): void {
    const perSecond = this.options.increasePerSecond ?? this.ceiling / 10;
    // One success in 1/rate seconds: per second of sending, the rate gains `perSecond`. At a
    // crawl one success would stand for many seconds, so it at most doubles the rate.
    const gain = Math.min(perSecond / this.current, this.current);
    this.current = Math.min(this.ceiling, this.current + gain);
  }
}
