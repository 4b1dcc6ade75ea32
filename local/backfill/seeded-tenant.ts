import { endOfSyncDay } from '#shared/domain/sync-day.ts';
import type { ManagementApi, User } from '#stand-ins/auth0-management-api/server.ts';
import { generatedCrmId, generatedName, generatedPhone } from '#stand-ins/demo-data.ts';

/**
 * A tenant for the local backfill: user `i` is generated customer `i` of the demo data
 * (stand-ins/demo-data.ts), whom the demo CRM started with `generated` answers.
 */

/** The seeded user `i`'s Auth0 id. */
export function seededUserId(i: number): string {
  return `sms|user-${i}`;
}

const SEEDED_USER_ID = /^sms\|user-(\d+)$/;

/** The `app_metadata.crm` the service produces for seeded user `i`, as of a past sync. */
export function seededCrmMetadata(
  i: number,
  options: { namespace: string; syncedAt: Date; freshUntil: Date; outdated?: boolean },
) {
  return {
    id: generatedCrmId(i),
    synced_at: options.syncedAt.toISOString(),
    fresh_until: options.freshUntil.toISOString(),
    namespace: options.namespace,
    fields: {
      crm_id: generatedCrmId(i),
      name: options.outdated ? `${generatedName(i)} (renamed since)` : generatedName(i),
    },
  };
}

/** Whether seeded user `i` has CRM data that changed since, spread evenly at `share`. */
export function isChangedUser(i: number, share: number): boolean {
  return Math.floor((i + 1) * share) > Math.floor(i * share);
}

/** Seeded user `i` with a phone number and the given `app_metadata.crm` (none: never synced). */
export function seededUser(i: number, crm?: unknown): User {
  return {
    user_id: seededUserId(i),
    phone_number: generatedPhone(i),
    app_metadata: crm === undefined ? {} : { crm },
  };
}

/**
 * Seeds `users` users into the Management API stand-in as a tenant synced yesterday: every
 * profile carries `app_metadata.crm` equal to what the service produces today (same id,
 * namespace and fields; dates of yesterday, no longer fresh), except the `changedShare` whose
 * CRM name changed since. Returns the indexes of the seeded users.
 */
export function seedSyncedTenant(
  api: ManagementApi,
  options: {
    users: number;
    changedShare: number;
    namespace: string;
    timeZone?: string;
    now?: number;
  },
): { first: number; count: number; changed: number } {
  const now = options.now ?? Date.now();
  const syncedAt = new Date(now - 86_400_000);
  const freshUntil = endOfSyncDay(syncedAt, options.timeZone ?? 'UTC');
  let first = -1;
  let changed = 0;
  api.seedUsers(options.users, (i): User => {
    if (first < 0) first = i;
    const outdated = isChangedUser(i, options.changedShare);
    if (outdated) changed++;
    const namespace = options.namespace;
    return seededUser(i, seededCrmMetadata(i, { namespace, syncedAt, freshUntil, outdated }));
  });
  return { first, count: options.users, changed };
}

/**
 * Checks every seeded user's profile against what the generated CRM holds for them: the count
 * of users whose `app_metadata.crm` has the right id, namespace and fields, and of the others.
 */
export function verifySeededTenant(
  api: ManagementApi,
  namespace: string,
): { matching: number; mismatched: number } {
  let matching = 0;
  let mismatched = 0;
  for (const user of api.users.values()) {
    const i = Number(SEEDED_USER_ID.exec(user.user_id)?.[1] ?? Number.NaN);
    const crm = user.app_metadata.crm as
      | { id?: unknown; namespace?: unknown; fields?: Record<string, unknown> }
      | undefined;
    const ok =
      Number.isInteger(i) &&
      crm?.id === generatedCrmId(i) &&
      crm.namespace === namespace &&
      crm.fields?.crm_id === generatedCrmId(i) &&
      crm.fields?.name === generatedName(i) &&
      Object.keys(crm.fields).length === 2;
    if (ok) matching++;
    else mismatched++;
  }
  return { matching, mismatched };
}
