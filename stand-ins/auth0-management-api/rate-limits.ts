import { TokenBucket } from '#shared/domain/token-bucket.ts';

/**
 * The tenant's rate limits on /api/v2, off until a test sets them: token buckets with a burst
 * (the bucket's size) and a sustained rate (tokens added per second), as Auth0 describes them
 * (auth0/docs-v2 main/docs/troubleshoot/customer-support/operational-policies/rate-limit-policy/
 * rate-limit-use-cases.mdx). Every answer from a limited endpoint carries
 *
 * - `x-ratelimit-limit`: "maximum number of requests available", the bucket's size (burst);
 * - `x-ratelimit-remaining`: the requests left until more are added;
 * - `x-ratelimit-reset`: the UNIX second "when additional requests will be added to the bucket",
 *   i.e. when the next token comes, not when the bucket is full again.
 *
 * An empty bucket answers 429 with those headers and Auth0's error body, errorCode
 * `too_many_requests` (as reported in auth0-extensions/auth0-reset-tenant#31). No Retry-After:
 * Auth0 documents it only for custom rate-limit policies (rate-limit-policy/
 * custom-rate-limit-policies.mdx); the SDK itself waits for X-RateLimit-Reset when it is
 * absent (auth0/node-auth0 src/management/core/fetcher/requestWithRetries.ts).
 *
 * Two buckets can be set: a global one over every /api/v2 request (Free: 2/s burst 2;
 * Enterprise production: 16/s burst 50) and the "Write Users" endpoint group, POST and PATCH
 * on /users (Essentials and Professional: 200/minute burst 20), per rate-limit-configurations/
 * free-public.mdx, essentials-professional-b2b.mdx and enterprise-public.mdx. A request must
 * find a token in each bucket that applies to it; a refused one spends none.
 */

export interface RateLimitSpec {
  /** Tokens added per second: the sustained rate. */
  readonly perSecond: number;
  /** The bucket's size, the burst (x-ratelimit-limit); default `perSecond`, at least 1. */
  readonly burst?: number;
}

export interface RateLimitBuckets {
  /** Every /api/v2 request ("Global limit has been reached"). */
  readonly global?: RateLimitSpec;
  /** POST /users and PATCH /users/{id}: the "Write Users" endpoint group. */
  readonly writeUsers?: RateLimitSpec;
}

/** A number is the old form: a global bucket whose burst is its rate. `undefined` lifts all. */
export type RateLimitSetting = number | RateLimitSpec | RateLimitBuckets | undefined;

export interface RateDecision {
  ok: boolean;
  headers: Record<string, string>;
  /** The 429's message, naming the bucket that was empty. */
  message: string;
}

interface Bucket {
  readonly bucket: TokenBucket;
  readonly message: string;
}

// The messages Auth0 answers: the global one (auth0-extensions/auth0-reset-tenant#31) and the
// users_write group's (Maptio/maptio#516).
const GLOBAL_MESSAGE = 'Global limit has been reached';
const WRITE_USERS_MESSAGE = 'Global per second users_write group limit has been reached';

function bucketOf(spec: RateLimitSpec | undefined, message: string, now: number) {
  if (spec === undefined) return undefined;
  if (!(spec.perSecond > 0)) throw new Error('setRateLimit: perSecond must be positive');
  const burst = spec.burst ?? Math.max(1, spec.perSecond);
  if (!(burst >= 1)) throw new Error('setRateLimit: burst must be at least 1');
  return { bucket: new TokenBucket(spec.perSecond, burst, now), message };
}

function isWriteUsers(method: string, segments: readonly string[]): boolean {
  return (
    (method === 'POST' || method === 'PATCH') && segments[0] === 'users' && segments.length <= 2
  );
}

function headersOf({ bucket }: Bucket, at: number): Record<string, string> {
  return {
    'x-ratelimit-limit': String(bucket.burst),
    'x-ratelimit-remaining': String(bucket.remaining(at)),
    'x-ratelimit-reset': String(Math.ceil(bucket.nextTokenAt(at) / 1000)),
  };
}

export function createRateLimit() {
  let global: Bucket | undefined;
  let writeUsers: Bucket | undefined;
  let refused = 0;

  return {
    /** Sets the buckets anew (full); `undefined` lifts every limit. */
    set(setting: RateLimitSetting): void {
      const now = Date.now();
      const buckets: RateLimitBuckets =
        setting === undefined
          ? {}
          : typeof setting === 'number'
            ? { global: { perSecond: setting } }
            : 'perSecond' in setting
              ? { global: setting }
              : setting;
      global = bucketOf(buckets.global, GLOBAL_MESSAGE, now);
      writeUsers = bucketOf(buckets.writeUsers, WRITE_USERS_MESSAGE, now);
    },

    /** 429s answered since the stand-in started. */
    get refused(): number {
      return refused;
    },

    /**
     * Spends a token in each bucket `method` and the /api/v2 path `segments` fall under:
     * `undefined` when none does.
     */
    take(method: string, segments: readonly string[]): RateDecision | undefined {
      const applying = [global, isWriteUsers(method, segments) ? writeUsers : undefined].filter(
        (b): b is Bucket => b !== undefined,
      );
      if (applying.length === 0) return undefined;
      const at = Date.now();
      const empty = applying.find(({ bucket }) => bucket.remaining(at) < 1);
      if (empty) {
        refused++;
        return { ok: false, headers: headersOf(empty, at), message: empty.message };
      }
      for (const { bucket } of applying) bucket.tryTake(at);
      // The headers describe the bucket that will refuse first.
      const tightest = applying.reduce((a, b) =>
        b.bucket.remaining(at) < a.bucket.remaining(at) ? b : a,
      );
      return { ok: true, headers: headersOf(tightest, at), message: tightest.message };
    },
  };
}
