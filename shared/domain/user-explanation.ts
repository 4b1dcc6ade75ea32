import { toClaims } from './claims.ts';
import type { LookupFailureCode, StampEntry } from './ports.ts';
import type { MatchKeyKind } from './sync-request.ts';

/**
 * - `synced` / `not_found`: the CRM's last answer. A failure recorded after it while the stamp
 *   is still fresh (a forced lookup that failed) leaves it so: logins are answered from it.
 * - `stale`: the last lookup failed after that answer and the stamp is no longer fresh: logins
 *   get the answer, marked stale.
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
  /**
   * The names of the claims a login answered from the stamp gets, never their values: a mapped
   * field such as `name` is personal data, and the operator asks which claims, not what they say.
   */
  readonly claims: readonly string[];
  readonly next_login: 'answered_from_stamp' | 'asks_crm';
  /** The last failed lookup since the stamp's answer, whether or not it made the stamp stale. */
  readonly last_failure: { readonly code: LookupFailureCode; readonly at: string } | null;
  readonly lookup_in_flight: boolean;
  /**
   * For a not_found answer: how many CRM records matched the key when the CRM held several, so
   * that none was linked (docs/sync-api.md, "Ambiguous matches"); null otherwise.
   */
  readonly ambiguous_matches: number | null;
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
  const fresh = stamp !== undefined && stamp.freshUntil > now;
  // Stale is what the logins get: a fresh stamp answers them as it is, whatever failed since.
  const status: ExplainedStatus =
    stamp === undefined ? 'failed' : failedSince && !fresh ? 'stale' : stamp.status;
  return {
    user_id: userId,
    status,
    fresh,
    crm_id: stamp?.crmId ?? null,
    synced_at: stamp === undefined ? null : iso(stamp.syncedAt),
    fresh_until: stamp === undefined ? null : iso(stamp.freshUntil),
    match_key: entry?.matchKey ?? stamp?.matchKey ?? null,
    claims: stamp === undefined ? [] : Object.keys(toClaims(claimNamespace, stamp.fields)),
    next_login: fresh ? 'answered_from_stamp' : 'asks_crm',
    last_failure: failedSince && failure ? { code: failure.code, at: iso(failure.at) } : null,
    lookup_in_flight: entry?.lease !== undefined && entry.lease.until > now,
    ambiguous_matches: stamp?.ambiguousMatches ?? null,
  };
}

function iso(epochMs: number): string {
  return new Date(epochMs).toISOString();
}
