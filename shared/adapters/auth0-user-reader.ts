import { type ManagementClient, ManagementError } from 'auth0';
import type { ExportedUser, UserReader } from '../domain/ports.ts';
import { rateLimitHeaders, type WritePace } from './adaptive-pace.ts';
import { managementCallFailure } from './auth0-profile-writer.ts';

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
      throw managementCallFailure(error, {
        pace: this.pace,
        turn,
        now: this.clock(),
        operation: 'read users',
      });
    }
    const metadata = user.app_metadata as { crm?: unknown } | undefined;
    return {
      user_id: typeof user.user_id === 'string' ? user.user_id : userId,
      ...(typeof user.phone_number === 'string' ? { phone_number: user.phone_number } : {}),
      ...(typeof user.email === 'string' ? { email: user.email } : {}),
      ...(metadata?.crm === undefined ? {} : { crm: metadata.crm }),
    };
  }
}
