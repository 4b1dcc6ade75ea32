import { AdaptiveRate } from '../domain/adaptive-rate.ts';
import { RateLimiter } from './rate-limiter.ts';

/**
 * How the profile writer paces its Management API calls. It takes a turn before each call and
 * reports the rate-limit headers of each answer that has them (a success or a 429) with that
 * call's turn, so a pace can follow what the tenant grants. A call that ends in any other way
 * (a timeout, a 401, a 403, a 5xx, a network fault) is not reported: the turn tells the pace
 * which call an answer belongs to, so it never waits on answers that will not come.
 */
export interface WritePace {
  /** Resolves with the call's turn when the next call may go out. */
  take(): Promise<WriteTurn>;
  /** The API took the call of `turn`. */
  accepted(headers: RateLimitHeaders, turn: WriteTurn): void;
  /**
   * The API answered 429 to the call of `turn`: no call should go out before `resumeAt`
   * (epoch ms).
   */
  refused(headers: RateLimitHeaders, resumeAt: number, turn: WriteTurn): void;
}

/** Which call an answer belongs to: what WritePace.take handed out for it. */
export type WriteTurn = number;

/**
 * Auth0's rate-limit headers (auth0/docs-v2 main/docs/troubleshoot/customer-support/
 * operational-policies/rate-limit-policy/rate-limit-use-cases.mdx): the bucket's size, the
 * calls left in it, and the epoch milliseconds when more are added. Each is undefined when
 * absent or unreadable.
 */
export interface RateLimitHeaders {
  readonly limit?: number | undefined;
  readonly remaining?: number | undefined;
  readonly resetAt?: number | undefined;
}

export function rateLimitHeaders(headers: Headers | undefined): RateLimitHeaders {
  const read = (name: string) => {
    const text = headers?.get(name)?.trim();
    const value = text ? Number(text) : Number.NaN;
    return Number.isFinite(value) && value >= 0 ? value : undefined;
  };
  const reset = read('x-ratelimit-reset');
  return {
    limit: read('x-ratelimit-limit'),
    remaining: read('x-ratelimit-remaining'),
    resetAt: reset === undefined ? undefined : reset * 1000,
  };
}

// A hostile or broken answer may name a reset a year away: no pause is longer than this.
const MAX_PAUSE_MS = 3_600_000;

export interface AdaptivePaceOptions {
  /** A limiter every call also waits on, e.g. one shared by the writers of a process. */
  readonly ceilingLimiter?: RateLimiter | undefined;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** See AdaptiveRate: the slowest pace and how fast it recovers. */
  readonly floor?: number;
  readonly increasePerSecond?: number;
}

/**
 * The configured rate as a ceiling, and below it what the tenant grants: AdaptiveRate cuts
 * the pace when the bucket drains or a call is refused and recovers it additively; when the
 * API says nothing remains (a 429, or a success with `remaining: 0`), every call waits until
 * the reset second. Calls are spaced evenly: the tenant's burst is the tenant's to give, and a
 * burst into a bucket shared with logins ends in 429s.
 */
export class AdaptivePace implements WritePace {
  private readonly adaptive: AdaptiveRate;
  private readonly limiter: RateLimiter;
  private readonly clock: () => number;

  constructor(
    ceilingPerSecond: number,
    private readonly options: AdaptivePaceOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.adaptive = new AdaptiveRate(ceilingPerSecond, {
      ...(options.floor === undefined ? {} : { floor: options.floor }),
      ...(options.increasePerSecond === undefined
        ? {}
        : { increasePerSecond: options.increasePerSecond }),
    });
    // No burst of its own beyond a millisecond's calls (a timer's resolution): writes come in
    // clumps (as batches find changed users), and a clump let through at once spends the
    // tenant's bucket before any answer can slow the pace.
    const burst = Math.max(1, Math.ceil(ceilingPerSecond / 1_000));
    this.limiter = new RateLimiter(this.adaptive.rate, burst, this.clock, options.sleep);
  }

  /** The pace now, calls per second. */
  get ratePerSecond(): number {
    return this.adaptive.rate;
  }

  async take(): Promise<WriteTurn> {
    await this.limiter.take();
    await this.options.ceilingLimiter?.take();
    return this.adaptive.onSent();
  }

  accepted(headers: RateLimitHeaders, turn: WriteTurn): void {
    this.adaptive.onSuccess(headers.remaining, headers.limit, turn);
    this.limiter.setRate(this.adaptive.rate);
    if (headers.remaining === 0) this.pauseUntil(headers.resetAt);
  }

  refused(_headers: RateLimitHeaders, resumeAt: number, turn: WriteTurn): void {
    this.adaptive.onRateLimited(turn);
    this.limiter.setRate(this.adaptive.rate);
    this.pauseUntil(resumeAt);
  }

  private pauseUntil(epochMs: number | undefined): void {
    const now = this.clock();
    if (epochMs === undefined || epochMs <= now) return;
    this.limiter.pauseUntil(Math.min(epochMs, now + MAX_PAUSE_MS));
  }
}

/**
 * The fixed pace the writer had before it adapted, kept as the benchmark's baseline: the
 * configured rate whatever the tenant grants, a pause after a 429, and after `remaining: 0`
 * a wait of (reset - now) / limit, which reads the reset as "bucket full again".
 */
export class FixedPace implements WritePace {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly clock: () => number = Date.now,
  ) {}

  /** A fixed pace reads each answer on its own: the turn it hands out means nothing. */
  async take(): Promise<WriteTurn> {
    await this.limiter.take();
    return 0;
  }

  accepted({ remaining, limit, resetAt }: RateLimitHeaders): void {
    const now = this.clock();
    if (remaining !== 0 || resetAt === undefined || resetAt <= now) return;
    const wait = limit !== undefined && limit >= 1 ? (resetAt - now) / limit : resetAt - now;
    this.limiter.pauseUntil(now + Math.min(wait, MAX_PAUSE_MS));
  }

  refused(_headers: RateLimitHeaders, resumeAt: number): void {
    this.limiter.pauseUntil(Math.min(resumeAt, this.clock() + MAX_PAUSE_MS));
  }
}
