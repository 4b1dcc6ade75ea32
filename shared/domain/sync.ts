import { randomUUID } from 'node:crypto';
import { type ClaimMapping, mapFields, readCrmId } from './claims.ts';
import { SyncApiError } from './errors.ts';
import type { MatchKeyHasher } from './match-key-hash.ts';
import {
  AmbiguousMatch,
  CrmFailure,
  type CrmFailureReason,
  type CrmLookup,
  type CrmRecord,
  type LookupFailure,
  type LookupFailureCode,
  type StampEntry,
  type StampStore,
  type SyncStamp,
} from './ports.ts';
import { stampBasis } from './stamp-basis.ts';
import { freshUntil } from './sync-day.ts';
import type { SyncRequest } from './sync-request.ts';

export interface SyncPolicy {
  readonly mapping: ClaimMapping;
  /** IANA zone whose calendar day bounds a stamp's freshness. */
  readonly timeZone: string;
  /** A "no such user" answer stays fresh this long (the person may be added to the CRM today). */
  readonly notFoundFreshSeconds: number;
  /** After a CRM failure, the caller may reuse the last known data this long before asking again. */
  readonly staleRetrySeconds: number;
  /** How long a lookup in flight keeps others from asking the CRM; outlives the CRM timeout. */
  readonly leaseMs: number;
  /**
   * The caller's budget, from the request's arrival: a request that finds another instance's
   * lookup in flight waits for its answer up to this long (the caller has given up after it).
   */
  readonly answerWithinMs: number;
  /** A forced request asks the CRM at most once per user in this long (default 60 s). */
  readonly forcedLookupIntervalMs?: number;
}

/** One forced CRM lookup per user per minute: `force` is a refresh, not a CRM load generator. */
export const FORCED_LOOKUP_INTERVAL_MS = 60_000;

export type SyncStatus = 'synced' | 'cached' | 'not_found' | 'stale';

export interface SyncOutcome {
  readonly status: SyncStatus;
  readonly crmId: string | null;
  readonly fields: SyncStamp['fields'];
  readonly syncedAt: number;
  readonly freshUntil: number;
  /** Milliseconds the CRM took, when it was asked. */
  readonly crmMs?: number;
  /** Why the CRM gave no answer, when the outcome is `stale`. */
  readonly crmFault?: StaleReason;
  /** The CRM held this many records for the match key, so none was linked (not_found). */
  readonly ambiguousMatches?: number;
}

/** A fault the service absorbed (it still answered); for logs and metrics. */
export interface AbsorbedFault {
  readonly operation:
    | 'stamp_read'
    | 'stamp_lease'
    | 'stamp_write'
    | 'lease_release'
    | 'crm'
    | 'secret_read'
    | 'replay_check';
  readonly error: unknown;
}

export interface SyncDependencies {
  readonly crm: CrmLookup;
  readonly stamps: StampStore;
  /**
   * The keyed hash of a match key, written on each stamp so that CRM change events find the
   * user by phone number or email; none (tests, older setups) writes no hash.
   */
  readonly matchKeyHash?: MatchKeyHasher | undefined;
  readonly policy: SyncPolicy;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onFault?: (fault: AbsorbedFault) => void;
}

/**
 * The sync use case: answer from today's stamp when there is one, otherwise ask the CRM —
 * at most once per user per sync day across every instance, guarded by a lease in the store.
 */
export class SyncService {
  private readonly crm: CrmLookup;
  private readonly stamps: StampStore;
  private readonly policy: SyncPolicy;
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly onFault: (fault: AbsorbedFault) => void;
  private readonly forcedIntervalMs: number;
  private readonly matchKeyHash: MatchKeyHasher;
  private readonly inFlight = new Map<string, Promise<SyncOutcome>>();

  constructor(deps: SyncDependencies) {
    this.crm = deps.crm;
    this.stamps = deps.stamps;
    this.policy = deps.policy;
    this.clock = deps.clock ?? Date.now;
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.onFault = deps.onFault ?? (() => {});
    this.forcedIntervalMs = deps.policy.forcedLookupIntervalMs ?? FORCED_LOOKUP_INTERVAL_MS;
    this.matchKeyHash = deps.matchKeyHash ?? (async () => undefined);
  }

  /**
   * Concurrent requests for the same user, key and force on this instance share one sync:
   * one stamp read and at most one lease, however many logins arrive at once (a Lambda
   * instance serves one request at a time, the local stack many). The followers are told
   * `cached` for what the leader asked the CRM for.
   */
  sync(request: SyncRequest): Promise<SyncOutcome> {
    const basis = stampBasis(request.matchKey, this.policy.mapping);
    const key = `${request.userId}\0${basis}\0${request.force}`;
    const inFlight = this.inFlight.get(key);
    if (inFlight) return inFlight.then(asFollower);
    const leading = this.syncOnce(request, basis).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, leading);
    return leading;
  }

  private async syncOnce(request: SyncRequest, basis: string): Promise<SyncOutcome> {
    const now = this.clock();
    let entry: StampEntry | undefined;
    try {
      entry = await this.stamps.get(request.userId);
    } catch (error) {
      this.onFault({ operation: 'stamp_read', error });
      return this.lookUpWithoutStore(request, basis, now);
    }
    if (this.answers(entry?.stamp, request, basis, now)) return cached(entry.stamp);
    // The CRM asked us to stay away (or keeps failing): answer at once, without a lease.
    if (this.crm.isAvailable?.() === false) return this.fallBack(entry?.stamp, now, 'circuit_open');

    const owner = randomUUID();
    let attempt: Awaited<ReturnType<StampStore['acquireLease']>>;
    try {
      attempt = await this.stamps.acquireLease(request.userId, {
        owner,
        now,
        // From now, not from the request's start: a slow stamp read must not shorten the lease.
        until: this.clock() + this.policy.leaseMs,
        basis,
        force: request.force,
        forcedSince: now - this.forcedIntervalMs,
      });
    } catch (error) {
      this.onFault({ operation: 'stamp_lease', error });
      return this.lookUpWithoutStore(request, basis, now);
    }
    if (attempt.acquired) return this.lookUp(request, basis, owner, entry?.stamp);

    const current = attempt.current;
    if (this.answers(current?.stamp, request, basis, now)) return cached(current.stamp);
    // Refused with no lookup in flight: a forced lookup was tried within the interval (and
    // failed). Today's stamp still answers; the CRM is not asked again this minute.
    const leaseLive = current?.lease !== undefined && current.lease.until > this.clock();
    if (request.force && !leaseLive && isFresh(current?.stamp, basis, now)) {
      return cached(current.stamp);
    }
    return this.awaitOtherLookup(request, basis, now, current ?? entry);
  }

  /**
   * Whether a stamp answers the request without the CRM: fresh for its basis and, for a forced
   * request, written within the forced-lookup interval (a refresh that just happened serves).
   */
  private answers(
    stamp: SyncStamp | undefined,
    request: SyncRequest,
    basis: string,
    requestedAt: number,
  ): stamp is SyncStamp {
    if (!isFresh(stamp, basis, this.clock())) return false;
    return !request.force || stamp.syncedAt > requestedAt - this.forcedIntervalMs;
  }

  private async lookUp(
    request: SyncRequest,
    basis: string,
    owner: string,
    previous: SyncStamp | undefined,
  ): Promise<SyncOutcome> {
    const started = this.clock();
    // Beside the CRM call, not after it: a refresh of the hash key must not lengthen the login.
    const matchHash = this.matchKeyHash(request.matchKey).catch((error: unknown) => {
      // No hash: only a change event naming this phone number or email would miss the user.
      this.onFault({ operation: 'secret_read', error });
      return undefined;
    });
    let stamp: SyncStamp;
    try {
      stamp = this.stampFrom(request, basis, await this.crm.find(request.matchKey), started);
    } catch (error) {
      this.onFault({ operation: 'crm', error });
      const code = failureReason(error);
      // Recorded by the release itself, for GET /v1/users/{id}: no extra write on the login.
      const failure = { code, at: this.clock(), matchKey: request.matchKey.kind };
      await this.releaseLease(request.userId, owner, failure);
      return this.fallBack(previous, started, code);
    }
    const crmMs = this.clock() - started;
    const hash = await matchHash;
    if (hash !== undefined) stamp = { ...stamp, matchHash: hash };
    let written: 'written' | 'superseded';
    try {
      written = await this.stamps.put(stamp);
    } catch (error) {
      // The caller still gets today's data; the next login simply asks the CRM again. The lease
      // goes too, if the store lets us, so that waiters elsewhere stop waiting for this stamp.
      this.onFault({ operation: 'stamp_write', error });
      await this.releaseLease(request.userId, owner);
      written = 'written';
    }
    if (written === 'superseded') {
      // A CRM change event came while the CRM was being asked: this answer may predate it. The
      // caller gets it, fresh until now only, so that nothing keeps it (the Action's metadata,
      // the backfill's profile check) and the next request asks the CRM again.
      await this.releaseLease(request.userId, owner);
      return { ...outcomeOf(stamp, stamp.status), freshUntil: this.clock(), crmMs };
    }
    return { ...outcomeOf(stamp, stamp.status), crmMs };
  }

  /** Drops our lease; a store that fails to is absorbed (the lease expires by itself). */
  private async releaseLease(userId: string, owner: string, failure?: LookupFailure) {
    await this.stamps.releaseLease(userId, owner, failure).catch((releaseError: unknown) => {
      this.onFault({ operation: 'lease_release', error: releaseError });
    });
  }

  /**
   * Another instance is asking the CRM for this user right now: wait for its stamp, for as long
   * as the lease says the lookup may still answer and the caller is still listening. The lease
   * outlives the CRM's timeout, so a CRM that answers in time is always seen by the waiters.
   */
  private async awaitOtherLookup(
    request: SyncRequest,
    basis: string,
    requestedAt: number,
    seen: StampEntry | undefined,
  ): Promise<SyncOutcome> {
    const arrivedAt = Math.min(request.receivedAt ?? requestedAt, requestedAt);
    const deadline = arrivedAt + this.policy.answerWithinMs;
    let latest = seen;
    let delay = 25;
    while (latest?.lease !== undefined && latest.lease.until > this.clock()) {
      const remaining = deadline - this.clock();
      if (remaining <= 0) break;
      // Jittered, so that many waiters on many instances do not read the one item in step.
      await this.sleep(Math.min(delay * (0.75 + Math.random() / 2), remaining));
      delay = Math.min(delay * 2, 150);
      let read: { entry: StampEntry | undefined } | 'too_late';
      try {
        read = await this.readBefore(request.userId, deadline);
      } catch (error) {
        // A throttled or failed read is no answer yet: keep waiting while the caller listens.
        this.onFault({ operation: 'stamp_read', error });
        continue;
      }
      if (read === 'too_late') break;
      latest = read.entry;
      if (this.answers(latest?.stamp, request, basis, requestedAt)) return cached(latest.stamp);
    }
    // The other lookup failed, died or outran the caller: serve what is known without asking.
    return this.fallBack(latest?.stamp ?? seen?.stamp, this.clock(), 'lookup_elsewhere');
  }

  /** A consistent read of the user's entry, unless the deadline passes first. */
  private async readBefore(
    userId: string,
    deadline: number,
  ): Promise<{ entry: StampEntry | undefined } | 'too_late'> {
    const remaining = deadline - this.clock();
    if (remaining <= 0) return 'too_late';
    const read = this.stamps.get(userId, { consistent: true }).then((entry) => ({ entry }));
    // The read goes on unheeded once the caller is gone; its failure is of no interest then.
    read.catch(() => {});
    const late = this.sleep(remaining).then(() => 'too_late' as const);
    return Promise.race([read, late]);
  }

  /** The store is unavailable: still answer the login, without stamp or lease. */
  private async lookUpWithoutStore(
    request: SyncRequest,
    basis: string,
    now: number,
  ): Promise<SyncOutcome> {
    if (this.crm.isAvailable?.() === false) return this.fallBack(undefined, now, 'circuit_open');
    let stamp: SyncStamp;
    try {
      stamp = this.stampFrom(request, basis, await this.crm.find(request.matchKey), now);
    } catch (error) {
      this.onFault({ operation: 'crm', error });
      return this.fallBack(undefined, now, failureReason(error));
    }
    return { ...outcomeOf(stamp, stamp.status), crmMs: this.clock() - now };
  }

  private stampFrom(
    request: SyncRequest,
    basis: string,
    record: CrmRecord | AmbiguousMatch | null,
    now: number,
  ): SyncStamp {
    const { mapping, timeZone, notFoundFreshSeconds } = this.policy;
    const { userId } = request;
    const matchKeyKind = request.matchKey.kind;
    if (record === null || record instanceof AmbiguousMatch) {
      // Several records are no answer either: the user is unlinked, and asked about again as
      // soon as a not-found user would be, so a merge of the duplicates in the CRM lands.
      return {
        ...(record === null ? {} : { ambiguousMatches: record.matches }),
        userId,
        basis,
        matchKey: matchKeyKind,
        status: 'not_found',
        crmId: null,
        fields: {},
        syncedAt: now,
        freshUntil: freshUntil(new Date(now), timeZone, notFoundFreshSeconds).getTime(),
      };
    }
    const crmId = readCrmId(record, mapping);
    if (crmId === undefined) throw new CrmFailure('invalid_response');
    return {
      userId,
      basis,
      matchKey: matchKeyKind,
      status: 'synced',
      crmId,
      fields: mapFields(record, mapping),
      syncedAt: now,
      freshUntil: freshUntil(new Date(now), timeZone).getTime(),
    };
  }

  private fallBack(previous: SyncStamp | undefined, now: number, why: StaleReason): SyncOutcome {
    if (previous === undefined) {
      throw new SyncApiError(
        'crm_unavailable',
        'the CRM did not answer and nothing is known about this user yet; try again later',
        why,
      );
    }
    const retryAt = freshUntil(new Date(now), this.policy.timeZone, this.policy.staleRetrySeconds);
    return { ...outcomeOf(previous, 'stale'), freshUntil: retryAt.getTime(), crmFault: why };
  }
}

/**
 * Why no CRM answer: the lookup's failure, another instance's lookup that did not land in
 * time, or a fault of ours before the CRM was reached (e.g. its key could not be read).
 */
export type StaleReason = CrmFailureReason | 'lookup_elsewhere' | 'fault';

function failureReason(error: unknown): LookupFailureCode {
  return error instanceof CrmFailure ? error.reason : 'fault';
}

function isFresh(stamp: SyncStamp | undefined, basis: string, now: number): stamp is SyncStamp {
  return stamp !== undefined && stamp.basis === basis && stamp.freshUntil > now;
}

/** What a follower of an in-flight sync is told: the same data, without having asked. */
function asFollower(outcome: SyncOutcome): SyncOutcome {
  if (outcome.status === 'stale') return outcome;
  const { crmMs: _asked, ...data } = outcome;
  return { ...data, status: 'cached' };
}

function cached(stamp: SyncStamp): SyncOutcome {
  return outcomeOf(stamp, 'cached');
}

function outcomeOf(stamp: SyncStamp, status: SyncOutcome['status']): SyncOutcome {
  return {
    status,
    crmId: stamp.crmId,
    fields: stamp.fields,
    syncedAt: stamp.syncedAt,
    freshUntil: stamp.freshUntil,
    ...(stamp.ambiguousMatches === undefined ? {} : { ambiguousMatches: stamp.ambiguousMatches }),
  };
}
