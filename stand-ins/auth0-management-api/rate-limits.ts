import { TokenBucket } from '#shared/domain/token-bucket.ts';

/**
 * The tenant's rate limit on /api/v2, off until a test sets it: a token bucket whose burst is
 * its rate, answered in Auth0's x-ratelimit-limit / -remaining / -reset headers (reset in epoch
 * seconds, when the bucket is full again) and, once it is empty, a 429 with retry-after.
 */

export interface RateDecision {
  ok: boolean;
  headers: Record<string, string>;
}

export function createRateLimit() {
  let bucket: TokenBucket | undefined;

  return {
    /** A token bucket (burst = perSecond) over all /api/v2 requests; `undefined` lifts it. */
    set(perSecond: number | undefined): void {
      if (perSecond !== undefined && !(perSecond > 0)) {
        throw new Error('setRateLimit: perSecond must be positive');
      }
      bucket =
        perSecond === undefined
          ? undefined
          : new TokenBucket(perSecond, Math.max(1, perSecond), Date.now());
    },

    /** Spends a token for one request: `undefined` when no limit is set. */
    take(): RateDecision | undefined {
      if (!bucket) return undefined;
      const at = Date.now();
      const limit = String(bucket.burst);
      if (bucket.tryTake(at)) {
        return {
          ok: true,
          headers: {
            'x-ratelimit-limit': limit,
            'x-ratelimit-remaining': String(bucket.remaining(at)),
            'x-ratelimit-reset': String(Math.ceil(bucket.fullAt(at) / 1000)),
          },
        };
      }
      const waitMs = bucket.msUntilToken(at);
      return {
        ok: false,
        headers: {
          'x-ratelimit-limit': limit,
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.ceil((at + waitMs) / 1000)),
          'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
        },
      };
    },
  };
}
