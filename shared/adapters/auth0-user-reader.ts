import { type ManagementClient, ManagementError, ManagementTimeoutError } from 'auth0';
import { RetryLater } from '../domain/backfill.ts';
import type { ExportedUser, UserReader } from '../domain/ports.ts';
import { rateLimitHeaders, type WritePace, type WriteTurn } from './adaptive-pace.ts';
import { missingScope } from './auth0-errors.ts';
import { retryAfterSeconds } from './auth0-profile-writer.ts';

/** The fields the backfill needs of a user, the export's own (auth0-user-export.ts). */
const FIELDS = 'user_id,phone_number,email,app_metadata';

/**
 * GET /users/{id} with `fields` and `include_fields=true` (Auth0 Management API v2, "Get a
 * user": users/get-users-by-id; scope read:users, which the export needs already): the user as
 * the export would list them, for a re-sync a CRM change event queued. A 404 is a user deleted
 * since (nothing to sync); a 429 (after X-RateLimit-Reset), a 401, a 5xx or a network fault is
 * RetryLater; a 403 insufficient_scope is the operator's to fix.
 */
export class Auth0UserReader implements UserReader {
  constructor(
    private readonly client: ManagementClient,
    /**
     * The profile writes' pace: a read takes a turn too, so that a re-sync's read and write
     * together stay within AUTH0_WRITES_PER_SECOND (on the Free plan both come out of one
     * bucket for the whole Management API). A read's answer steers the pace as a write's
     * does, its 429 too.
     */
    private readonly pace: WritePace,
    private readonly clock: () => number = Date.now,
  ) {}

  async readUser(userId: string): Promise<ExportedUser | undefined> {
    let user: Record<string, unknown>;
    const turn = await this.pace.take();
    try {
      const { data, rawResponse } = await this.client.users
        .get(userId, { fields: FIELDS, include_fields: true }, { maxRetries: 0 })
        .withRawResponse();
      // A read's headers steer the pace as a write's do: without it, a pace halved by a 429
      // would stay low through re-syncs that read and find nothing to write.
      this.pace.accepted(rateLimitHeaders(rawResponse.headers), turn);
      user = data as unknown as Record<string, unknown>;
    } catch (error) {
      if (error instanceof ManagementError && error.statusCode === 404) return undefined;
      throw this.failure(error, turn);
    }
    const metadata = user.app_metadata as { crm?: unknown } | undefined;
    return {
      user_id: typeof user.user_id === 'string' ? user.user_id : userId,
      ...(typeof user.phone_number === 'string' ? { phone_number: user.phone_number } : {}),
      ...(typeof user.email === 'string' ? { email: user.email } : {}),
      ...(metadata?.crm === undefined ? {} : { crm: metadata.crm }),
    };
  }

  private failure(error: unknown, turn: WriteTurn): unknown {
    if (error instanceof ManagementTimeoutError) return new RetryLater('auth0_timeout');
    if (!(error instanceof ManagementError)) return error;
    const status = error.statusCode;
    if (status === 429) {
      const headers = error.rawResponse?.headers;
      const now = this.clock();
      const after = retryAfterSeconds(headers, now);
      this.pace.refused(rateLimitHeaders(headers), now + after * 1000, turn);
      return new RetryLater('auth0_rate_limited', after);
    }
    if (status === 401) return new RetryLater('auth0_unauthorized');
    const scope = missingScope(error, 'read users');
    if (scope) return scope;
    if (status === undefined || status >= 500)
      return new RetryLater(`auth0_${status ?? 'network'}`);
    return error;
  }
}
