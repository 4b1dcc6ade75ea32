import type { ClaimFields } from './claims.ts';
import type { MatchKey } from './sync-request.ts';

/** Why a CRM lookup failed. Never carries what the CRM sent. */
export type CrmFailureReason = 'timeout' | 'network' | 'http_status' | 'invalid_response' | 'auth';

export class CrmFailure extends Error {
  constructor(
    readonly reason: CrmFailureReason,
    readonly httpStatus?: number,
  ) {
    super(`CRM lookup failed: ${reason}${httpStatus === undefined ? '' : ` (HTTP ${httpStatus})`}`);
    this.name = 'CrmFailure';
  }
}

/** Finds the CRM record for a match key: the record, null when the CRM has none, or a CrmFailure. */
export interface CrmLookup {
  find(key: MatchKey): Promise<Readonly<Record<string, unknown>> | null>;
}

/** The result of the last successful CRM lookup for a user. */
export interface SyncStamp {
  readonly userId: string;
  readonly status: 'synced' | 'not_found';
  readonly crmId: string | null;
  readonly fields: ClaimFields;
  /** Epoch milliseconds. */
  readonly syncedAt: number;
  readonly freshUntil: number;
  /** Fingerprint of the match key and the claim mapping the stamp answered. */
  readonly basis: string;
}

/** What the store holds for a user: the stamp (if any) and a lookup in flight (if any). */
export interface StampEntry {
  readonly stamp?: SyncStamp | undefined;
  readonly lease?: { readonly owner: string; readonly until: number } | undefined;
}

export type LeaseAttempt =
  | { readonly acquired: true }
  | { readonly acquired: false; readonly current: StampEntry | undefined };

export interface StampStore {
  get(userId: string, options?: { consistent?: boolean }): Promise<StampEntry | undefined>;
  /**
   * Claims the right to ask the CRM for this user. Atomic across every instance: succeeds only
   * when no other live lease exists and, unless forced, no stamp for `basis` is fresh at `now`.
   * On refusal it returns what the store holds, so the caller need not read again.
   */
  acquireLease(
    userId: string,
    lease: { owner: string; now: number; until: number; basis: string; force: boolean },
  ): Promise<LeaseAttempt>;
  /** Writes a stamp and drops any lease. */
  put(stamp: SyncStamp): Promise<void>;
  /** Drops the lease if `owner` still holds it; the stamp is left as it was. */
  releaseLease(userId: string, owner: string): Promise<void>;
}
