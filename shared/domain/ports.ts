import type { ClaimFields } from './claims.ts';
import type { MatchKey, MatchKeyKind } from './sync-request.ts';
import type { CrmAppMetadata } from './sync-response.ts';

/**
 * Why a CRM lookup failed. Never carries what the CRM sent.
 * - `redirect`: the CRM answered 3xx; redirects are never followed (the API key would go along).
 * - `too_large`: the answer passed the byte cap (counted after decompression).
 * - `rate_limited`: 429, the CRM asked us to slow down (a 503 is `http_status`; both may carry
 *   a Retry-After).
 * - `circuit_open`: not asked at all; the circuit breaker holds calls back.
 * - `query_refused`: the CRM refused the query itself (Salesforce's 400 INVALID_FIELD for a
 *   mapped field that does not exist or that field-level security hides): the configuration.
 */
export type CrmFailureReason =
  | 'timeout'
  | 'network'
  | 'http_status'
  | 'invalid_response'
  | 'auth'
  | 'redirect'
  | 'too_large'
  | 'rate_limited'
  | 'circuit_open'
  | 'query_refused';

export class CrmFailure extends Error {
  constructor(
    readonly reason: CrmFailureReason,
    readonly httpStatus?: number,
    /** How long the CRM asked us to wait (its Retry-After), in milliseconds. */
    readonly retryAfterMs?: number,
  ) {
    super(`CRM lookup failed: ${reason}${httpStatus === undefined ? '' : ` (HTTP ${httpStatus})`}`);
    this.name = 'CrmFailure';
  }
}

/** A CRM's record of one person, as its adapter hands it to the claim mapping. */
export type CrmRecord = Readonly<Record<string, unknown>>;

/**
 * The CRM answered, with more than one record for the match key (two contacts with one phone
 * number): a defined outcome, not a failure. No record is picked, since the wrong one would put
 * another person's data in a token; the user is answered as not found, and the stamp and the
 * request's log line say why (docs/sync-api.md, "Ambiguous matches").
 */
export class AmbiguousMatch {
  /** How many records matched, at least 2 (a search may stop counting early). */
  readonly matches: number;

  constructor(matches: number) {
    // The count may come from the CRM ("totalSize": 1e400 is Infinity): a whole number, capped,
    // or 2, so that it can be stored and logged.
    this.matches = Number.isSafeInteger(matches) && matches >= 2 ? Math.min(matches, 10_000) : 2;
  }
}

/**
 * Finds the CRM record for a match key: the record, null when the CRM has none, an
 * AmbiguousMatch when it has several, or a CrmFailure.
 */
export interface CrmLookup {
  find(key: MatchKey): Promise<CrmRecord | AmbiguousMatch | null>;
  /**
   * False while calls are held back (a circuit breaker is open): the service then answers from
   * what it knows at once, without taking a lease. Absent means always available.
   */
  isAvailable?(): boolean;
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
  /**
   * The kind of match key the CRM was asked with (never its value). Written with the stamp;
   * a read reports it as the entry's `matchKey`, which a later failed lookup may change.
   */
  readonly matchKey?: MatchKeyKind | undefined;
  /**
   * The keyed hash of the match key (match-key-hash.ts). A not_found stamp is indexed by it, so
   * that a CRM change event naming the phone number or email finds this user (a linked stamp is
   * indexed by its CRM id). Absent when the hash key was unreadable.
   */
  readonly matchHash?: string | undefined;
  /**
   * A not_found stamp whose lookup matched several CRM records (AmbiguousMatch): how many. The
   * user stays unlinked until the CRM holds one record for the key.
   */
  readonly ambiguousMatches?: number | undefined;
}

/** Why the last lookup of a user gave no answer: the CRM's failure, or a fault of ours. */
export type LookupFailureCode = CrmFailureReason | 'fault';

/** A lookup that failed, recorded as its lease is dropped (so it costs no extra write). */
export interface LookupFailure {
  readonly code: LookupFailureCode;
  /** Epoch milliseconds. */
  readonly at: number;
  readonly matchKey: MatchKeyKind;
}

/**
 * What the store holds for a user: the stamp (if any), a lookup in flight (if any) and the
 * last failed lookup since the stamp was written (a stamp's write clears it).
 */
export interface StampEntry {
  readonly stamp?: SyncStamp | undefined;
  readonly lease?: { readonly owner: string; readonly until: number } | undefined;
  readonly lastFailure?: { readonly code: LookupFailureCode; readonly at: number } | undefined;
  /** The kind of match key of the last lookup, failed or not; unknown for older stamps. */
  readonly matchKey?: MatchKeyKind | undefined;
}

export interface LeaseRequest {
  readonly owner: string;
  readonly now: number;
  readonly until: number;
  readonly basis: string;
  readonly force: boolean;
  readonly forcedSince: number;
}

export type LeaseAttempt =
  | { readonly acquired: true }
  | { readonly acquired: false; readonly current: StampEntry | undefined };

export interface StampStore {
  get(userId: string, options?: { consistent?: boolean }): Promise<StampEntry | undefined>;
  /**
   * Claims the right to ask the CRM for this user. Atomic across every instance: succeeds only
   * when no other live lease exists and no stamp for `basis` is fresh at `now` — or, when
   * forced, none was written after `forcedSince` (one forced lookup per interval).
   * On refusal it returns what the store holds, so the caller need not read again.
   */
  acquireLease(userId: string, lease: LeaseRequest): Promise<LeaseAttempt>;
  /**
   * Writes a stamp and drops any lease, unless a CRM change event marked the user's stamp
   * changed after the lookup began (`syncedAt`): the answer may predate the change, so it is
   * not kept (`superseded`), and the next lookup asks the CRM again.
   */
  put(stamp: SyncStamp): Promise<'written' | 'superseded'>;
  /**
   * Drops the lease if `owner` still holds it; the stamp is left as it was. After a failed
   * lookup, the same write records `failure` (what `get` then reports as `lastFailure`).
   */
  releaseLease(userId: string, owner: string, failure?: LookupFailure): Promise<void>;
}

/**
 * Remembers which request signatures were used, across every instance, so that a captured
 * request cannot be replayed within its validity window.
 */
export interface SignatureLedger {
  /** True the first time `signatureId` is seen; false for a replay. Atomic. */
  firstUse(signatureId: string, rememberUntil: number): Promise<boolean>;
}

// --- the backfill's ports -------------------------------------------------------------------

/** One user as the tenant export lists them (fields: user_id, phone_number, email, app_metadata.crm). */
export interface ExportedUser {
  readonly user_id: string;
  readonly phone_number?: string | undefined;
  readonly email?: string | undefined;
  /** The user's current `app_metadata.crm`, as exported: the backfill never reads a user again. */
  readonly crm?: unknown;
  /**
   * `crm_event`: queued by a CRM change event, which knows only the user id. The worker reads
   * the user from Auth0 (phone number, email and `app_metadata.crm` as they are now).
   */
  readonly source?: 'crm_event' | undefined;
}

/** Reads one user as the export lists them (GET /users/{id}); undefined when Auth0 has none. */
export interface UserReader {
  readUser(userId: string): Promise<ExportedUser | undefined>;
}

/** Where a user export job stands. */
export type ExportStatus =
  | { readonly state: 'running'; readonly percent?: number }
  | { readonly state: 'completed'; readonly location: string }
  | { readonly state: 'failed'; readonly reason: string };

/** The tenant's users, enumerated by an export job (Auth0's POST /jobs/users-exports). */
export interface UserExport {
  /** Starts an export job; its id. */
  start(connectionId?: string): Promise<string>;
  status(jobId: string): Promise<ExportStatus>;
  /** The exported users from the file at `location`, streamed, one at a time. */
  users(location: string): AsyncIterable<ExportedUser>;
}

/** Writes `app_metadata.crm` of one user (the Management API's PATCH /users/{id}). */
export interface ProfileWriter {
  writeCrmMetadata(userId: string, metadata: CrmAppMetadata): Promise<void>;
}

/** Where users to check go: SQS in AWS, memory locally. A call carries at most 10 users. */
export interface UserQueue {
  send(users: readonly ExportedUser[]): Promise<void>;
}

/** What a batch read found: the stamps, and the users whose stamp could not be read at all. */
export interface StampBatch {
  readonly stamps: ReadonlyMap<string, SyncStamp>;
  /** Still unprocessed after the retries (DynamoDB throttling): unknown, not "no stamp". */
  readonly unread: readonly string[];
}

/** Stamps of many users at once (DynamoDB BatchGetItem). */
export interface StampReader {
  getMany(userIds: readonly string[]): Promise<StampBatch>;
}

// --- CRM change events' ports -----------------------------------------------------------------

/** The ids of the CRM change events handled already (POST /v1/crm-events). */
export interface CrmEventLedger {
  /** Which of `ids` were recorded as handled. */
  handled(ids: readonly string[]): Promise<ReadonlySet<string>>;
  /** Records an event as handled, to be remembered until `until` (epoch ms) at least. */
  recordHandled(id: string, until: number): Promise<void>;
}

/**
 * The users listed under one key, up to a cap; `more` when the key lists others beyond it (a
 * CRM id or a number shared by unrelated people: their re-sync must not become a flood).
 */
export interface ListedUsers {
  readonly users: readonly string[];
  readonly more: boolean;
}

/** The stamps a CRM change concerns, found through the table's index, and their invalidation. */
export interface LinkedStamps {
  /** Users whose stamp links them to this CRM id. */
  usersLinkedTo(crmId: string): Promise<ListedUsers>;
  /** Users whose not_found stamp was answered for this match key (its keyed hash). */
  usersMatching(matchHash: string): Promise<ListedUsers>;
  /**
   * Marks the user's stamp as changed in the CRM at `at`: no longer fresh, so the next login
   * asks the CRM, and a lookup begun before `at` does not write over it (StampStore.put).
   */
  invalidate(userId: string, at: number): Promise<'invalidated' | 'no_stamp'>;
}
