import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import type { UserSyncState } from '#tools/explain/user-state.ts';

/** The claim namespace of the hand-made answers below. */
export const STATE_NAMESPACE = 'https://crm.example.com/';

/**
 * A `GET /v1/users/{user_id}` answer (docs/sync-api.md) for a user synced this morning, as the
 * explain tool's tests start from it: Ada's CRM record, both claims, no failure.
 */
export function syncedUserState(
  userId: string,
  overrides: Partial<UserSyncState> = {},
): UserSyncState {
  return {
    user_id: userId,
    status: 'synced',
    fresh: true,
    crm_id: ADA_LOVELACE.id,
    synced_at: '2026-12-01T09:00:00.000Z',
    fresh_until: '2026-12-02T00:00:00.000Z',
    match_key: 'phone',
    claims: [`${STATE_NAMESPACE}crm_id`, `${STATE_NAMESPACE}name`],
    next_login: 'answered_from_stamp',
    last_failure: null,
    lookup_in_flight: false,
    ...overrides,
  };
}
