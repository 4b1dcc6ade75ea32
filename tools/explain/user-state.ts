/**
 * The 200 body of `GET /v1/users/{user_id}`: what the sync service holds for one user. The
 * contract is agreed with the endpoint (functions/sync/); the tool reads it, checked, never
 * trusted, so that a service of another version fails with a clear message, not a wrong story.
 */

export type UserSyncStatus = 'synced' | 'not_found' | 'stale' | 'failed';

export interface LastFailure {
  /** A CrmFailureReason (shared/domain/ports.ts) or `fault`. */
  readonly code: string;
  readonly at: string;
}

export interface UserSyncState {
  readonly user_id: string;
  /**
   * `stale` only once the stamp is no longer fresh and a lookup failed after it; a failure after
   * a stamp still fresh (a forced lookup) keeps `synced`/`not_found`, with `last_failure` filled.
   */
  readonly status: UserSyncStatus;
  /** The stamp answers logins without asking the CRM until fresh_until. */
  readonly fresh: boolean;
  readonly crm_id: string | null;
  /** The CRM's last answer; null if it never answered. */
  readonly synced_at: string | null;
  readonly fresh_until: string | null;
  /** The kind of match key of the last lookup, never its value. */
  readonly match_key: 'phone' | 'email' | null;
  /** The names of the claims a login answered from this stamp gets; never their values. */
  readonly claims: readonly string[];
  readonly next_login: 'answered_from_stamp' | 'asks_crm';
  readonly last_failure: LastFailure | null;
  readonly lookup_in_flight: boolean;
  /** For not_found: the CRM held this many records for the key, so none was linked. */
  readonly ambiguous_matches?: number | null;
}

/** What the service answered about a user: its state, or that it holds nothing (404). */
export type ServiceView =
  | { readonly kind: 'known'; readonly state: UserSyncState }
  | { readonly kind: 'unknown' };

const STATUSES: readonly string[] = ['synced', 'not_found', 'stale', 'failed'];

/**
 * The body read as the contract's, or undefined when it is not. Only the contract's fields are
 * copied out: whatever else a service sends is never printed (`--json` prints this state).
 */
export function readUserSyncState(body: unknown): UserSyncState | undefined {
  if (!isObject(body)) return undefined;
  const b = body;
  const ok =
    typeof b.user_id === 'string' &&
    typeof b.status === 'string' &&
    STATUSES.includes(b.status) &&
    typeof b.fresh === 'boolean' &&
    isNullableString(b.crm_id) &&
    isNullableString(b.synced_at) &&
    isNullableString(b.fresh_until) &&
    (b.match_key === null || b.match_key === 'phone' || b.match_key === 'email') &&
    isClaimNames(b.claims) &&
    (b.next_login === 'answered_from_stamp' || b.next_login === 'asks_crm') &&
    (b.last_failure === null || isFailure(b.last_failure)) &&
    typeof b.lookup_in_flight === 'boolean' &&
    // Absent from services older than the named CRM adapters.
    (b.ambiguous_matches === undefined ||
      b.ambiguous_matches === null ||
      (Number.isSafeInteger(b.ambiguous_matches) && (b.ambiguous_matches as number) > 1));
  if (!ok) return undefined;
  const failure = b.last_failure as LastFailure | null;
  return {
    user_id: b.user_id as string,
    status: b.status as UserSyncStatus,
    fresh: b.fresh as boolean,
    crm_id: b.crm_id as string | null,
    synced_at: b.synced_at as string | null,
    fresh_until: b.fresh_until as string | null,
    match_key: b.match_key as UserSyncState['match_key'],
    claims: [...(b.claims as string[])],
    next_login: b.next_login as UserSyncState['next_login'],
    last_failure: failure === null ? null : { code: failure.code, at: failure.at },
    lookup_in_flight: b.lookup_in_flight as boolean,
    ...(typeof b.ambiguous_matches === 'number' ? { ambiguous_matches: b.ambiguous_matches } : {}),
  };
}

function isFailure(value: unknown): value is LastFailure {
  return isObject(value) && typeof value.code === 'string' && typeof value.at === 'string';
}

/** Names only: a `{name: value}` object (the contract before review) is not the contract. */
function isClaimNames(value: unknown): boolean {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isNullableString(value: unknown): boolean {
  return value === null || typeof value === 'string';
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
