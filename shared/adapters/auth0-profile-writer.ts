import { type ManagementClient, ManagementError, ManagementTimeoutError } from 'auth0';
import { RetryLater } from '../domain/backfill.ts';
import type { ProfileWriter } from '../domain/ports.ts';
import type { CrmAppMetadata } from '../domain/sync-response.ts';
import { rateLimitHeaders, type WritePace, type WriteTurn } from './adaptive-pace.ts';
import { missingScope } from './auth0-errors.ts';
import { retryAfterMs } from './retry-after.ts';

/**
 * PATCH /users/{id} with `app_metadata.crm`, within the Management API's rate limit: each call
 * waits for its turn in a WritePace, which the x-ratelimit-* headers of each success and 429
 * steer, told by the turn which call they answer (the AdaptivePace slows to what the tenant
 * grants; a write that ends any other way has no verdict on the bucket to report). A 429
 * (after X-RateLimit-Reset, or a Retry-After where a custom policy sends one), a 401 (the
 * client re-reads rotated credentials), a 5xx or a network fault becomes RetryLater: the user
 * is tried again, never lost. A 403 insufficient_scope is the operator's to fix
 * (MissingScopeError); other answers (400, 404: the user is gone) are errors.
 */
export class Auth0ProfileWriter implements ProfileWriter {
  constructor(
    private readonly client: ManagementClient,
    private readonly pace: WritePace,
    private readonly clock: () => number = Date.now,
  ) {}

  async writeCrmMetadata(userId: string, metadata: CrmAppMetadata): Promise<void> {
    // Auth0 deletes every app_metadata key on `app_metadata: {}` (auth0/docs-v2 main/docs/
    // manage-users/user-accounts/metadata/manage-metadata-api.mdx), and `{ crm: undefined }`
    // serializes to exactly that: a write without a crm object never goes out.
    if (metadata === null || typeof metadata !== 'object') {
      throw new TypeError(
        'Auth0ProfileWriter: no crm object to write; app_metadata: {} would delete all of the ' +
          "user's app_metadata, so nothing was sent",
      );
    }
    const turn = await this.pace.take();
    try {
      // No SDK retries: a retry inside the SDK would hold a worker and bypass the pace.
      const { rawResponse } = await this.client.users
        .update(userId, { app_metadata: { crm: metadata } }, { maxRetries: 0 })
        .withRawResponse();
      this.pace.accepted(rateLimitHeaders(rawResponse.headers), turn);
    } catch (error) {
      throw managementCallFailure(error, {
        pace: this.pace,
        turn,
        now: this.clock(),
        operation: 'write app_metadata of users',
      });
    }
  }
}

/**
 * What a failed Management API call of the backfill becomes: a 429 (after X-RateLimit-Reset, or
 * a Retry-After) pauses the pace and is RetryLater, as are a timeout, a 401 (the client re-reads
 * rotated credentials), a 5xx and a network fault; a 403 insufficient_scope is the operator's
 * to fix (MissingScopeError); anything else is the error itself. Only a 429 steers the pace: no
 * other answer tells of the bucket.
 */
export function managementCallFailure(
  error: unknown,
  call: {
    readonly pace: WritePace;
    readonly turn: WriteTurn;
    readonly now: number;
    readonly operation: string;
  },
): unknown {
  if (error instanceof ManagementTimeoutError) return new RetryLater('auth0_timeout');
  if (!(error instanceof ManagementError)) return error;
  const status = error.statusCode;
  const headers = error.rawResponse?.headers;
  if (status === 429) {
    const after = retryAfterSeconds(headers, call.now);
    call.pace.refused(rateLimitHeaders(headers), call.now + after * 1000, call.turn);
    return new RetryLater('auth0_rate_limited', after);
  }
  if (status === 401) return new RetryLater('auth0_unauthorized');
  const scope = missingScope(error, call.operation);
  if (scope) return scope;
  if (status === undefined) return new RetryLater('auth0_network');
  if (status >= 500) return new RetryLater(`auth0_${status}`);
  return error;
}

/**
 * Seconds to wait after a 429: X-RateLimit-Reset (the UNIX second when the bucket gets more
 * requests, Auth0's documented signal), or a Retry-After when one is sent (custom rate-limit
 * policies), else 1. At most an hour: a broken answer must not park the backfill for a year.
 */
export function retryAfterSeconds(headers: Headers | undefined, now: number): number {
  const retryAfter = retryAfterMs(headers?.get('retry-after'), now);
  if (retryAfter !== undefined) return Math.min(retryAfter / 1000, 3_600);
  const { resetAt } = rateLimitHeaders(headers);
  if (resetAt !== undefined && resetAt > now) {
    return Math.min(Math.ceil((resetAt - now) / 1000), 3_600);
  }
  return 1;
}
