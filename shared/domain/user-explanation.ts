import { type ClaimFields, toClaims } from './claims.ts';
import type { LookupFailureCode, StampEntry } from './ports.ts';
import type { MatchKeyKind } from './sync-request.ts';

/**
 * - `synced` / `not_found`: the CRM's last answer, with no failure recorded after it.
 * - `stale`: the last lookup failed after that answer; logins get the answer, marked stale.
 * - `failed`: a lookup failed and the CRM never answered for this user.
 */
export type ExplainedStatus = 'synced' | 'not_found' | 'stale' | 'failed';

/** The 200 body of `GET /v1/users/{user_id}` (docs/sync-api.md): why a user has the claims they have. */
export interface UserExplanation {
  readonly user_id: string;
  readonly status: ExplainedStatus;
  /** The stamp answers logins without asking the CRM until `fresh_until`. */
  readonly fresh: boolean;
  readonly crm_id: string | null;
  readonly synced_at: string | null;
  readonly fresh_until: string | null;
  /** The kind of match key of the last lookup; never its value. */
  readonly match_key: MatchKeyKind | null;
  /** What a login answered from the stamp gets. */
  readonly claims: ClaimFields;
  readonly next_login: 'answered_from_stamp' | 'asks_crm';
  readonly last_failure: { readonly code: LookupFailureCode; readonly at: string } | null;
  readonly lookup_in_flight: boolean;
}

/**
 * What the service holds for a user, as the contract reports it; undefined when it holds
 * nothing (neither a stamp nor a recorded failure): the contract's 404.
 */
export function explainUser(
  userId: string,
  entry: StampEntry | undefined,
  now: number,
  claimNamespace: string,
): UserExplanation | undefined {
  const stamp = entry?.stamp;
  const failure = entry?.lastFailure;
  if (stamp === undefined && failure === undefined) return undefined;
  // A stamp's write replaces the item, so a failure still recorded beside it came after it.
  const failedSince = failure !== undefined && (stamp === undefined || failure.at > stamp.syncedAt);
  const status: ExplainedStatus =
    stamp === undefined ? 'failed' : failedSince ? 'stale' : stamp.status;
  const fresh = stamp !== undefined && stamp.freshUntil > now;
  return {
    user_id: userId,
    status,
    fresh,
    crm_id: stamp?.crmId ?? null,
    synced_at: stamp === undefined ? null : iso(stamp.syncedAt),
    fresh_until: stamp === undefined ? null : iso(stamp.freshUntil),
    match_key: entry?.matchKey ?? stamp?.matchKey ?? null,
    claims: stamp === undefined ? {} : toClaims(claimNamespace, stamp.fields),
    next_login: fresh ? 'answered_from_stamp' : 'asks_crm',
    last_failure: failedSince && failure ? { code: failure.code, at: iso(failure.at) } : null,
    lookup_in_flight: entry?.lease !== undefined && entry.lease.until > now,
  };
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
