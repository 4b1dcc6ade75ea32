import { type ManagementClient, ManagementError, ManagementTimeoutError } from 'auth0';
import { RetryLater } from '../domain/backfill.ts';
import type { ProfileWriter } from '../domain/ports.ts';
import type { CrmAppMetadata } from '../domain/sync-response.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { retryAfterMs } from './retry-after.ts';

/**
 * PATCH /users/{id} with `app_metadata.crm`, within the Management API's rate limit: paced by a
 * shared limiter, held back for the next token when the API says nothing remains, and a 429
 * (after its Retry-After or X-RateLimit-Reset), a 5xx or a network fault becomes RetryLater:
 * the user is tried again, never lost. Other answers (400, 404: the user is gone) are errors.
 */
export class Auth0ProfileWriter implements ProfileWriter {
  constructor(
    private readonly client: ManagementClient,
    private readonly limiter: RateLimiter,
    private readonly clock: () => number = Date.now,
  ) {}

  async writeCrmMetadata(userId: string, metadata: CrmAppMetadata): Promise<void> {
    await this.limiter.take();
    try {
      // No SDK retries: a retry inside the SDK would hold a worker and bypass the limiter.
      const { rawResponse } = await this.client.users
        .update(userId, { app_metadata: { crm: metadata } }, { maxRetries: 0 })
        .withRawResponse();
      this.pace(rawResponse.headers);
    } catch (error) {
      if (error instanceof ManagementTimeoutError) throw new RetryLater('auth0_timeout');
      if (!(error instanceof ManagementError)) throw error;
      const status = error.statusCode;
      const headers = error.rawResponse?.headers;
      if (status === 429) {
        const after = retryAfterSeconds(headers, this.clock());
        this.limiter.pauseUntil(this.clock() + after * 1000);
        throw new RetryLater('auth0_rate_limited', after);
      }
      if (status === undefined) throw new RetryLater('auth0_network');
      if (status >= 500) throw new RetryLater(`auth0_${status}`);
      throw error;
    }
  }

  /**
   * "Remaining: 0" means the next call would be refused. The bucket refills linearly until
   * X-RateLimit-Reset, so the next token is (reset - now) / limit away: wait that long, not
   * until the whole bucket is full again.
   */
  private pace(headers: Headers | undefined): void {
    if (headers?.get('x-ratelimit-remaining') !== '0') return;
    const resetMs = Number(headers.get('x-ratelimit-reset')) * 1000;
    const limit = Number(headers.get('x-ratelimit-limit'));
    const now = this.clock();
    if (!Number.isFinite(resetMs) || resetMs <= now) return;
    const wait = Number.isFinite(limit) && limit >= 1 ? (resetMs - now) / limit : resetMs - now;
    this.limiter.pauseUntil(now + wait);
  }
}

/** Seconds to wait after a 429: Retry-After (seconds or a date), else X-RateLimit-Reset, else 1. */
export function retryAfterSeconds(headers: Headers | undefined, now: number): number {
  const retryAfter = retryAfterMs(headers?.get('retry-after'), now);
  if (retryAfter !== undefined) return Math.min(retryAfter / 1000, 3_600);
  const reset = Number(headers?.get('x-ratelimit-reset'));
  if (Number.isFinite(reset) && reset * 1000 > now) {
    return Math.min(Math.ceil((reset * 1000 - now) / 1000), 3_600);
  }
  return 1;
}
