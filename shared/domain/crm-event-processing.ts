import { type CrmEvent, EVENT_ID_RETENTION_DAYS } from './crm-events.ts';
import type { MatchKeyHasher } from './match-key-hash.ts';
import type { CrmEventLedger, LinkedStamps, ListedUsers, UserQueue } from './ports.ts';

/** What one request's events came to (the 202's body, and more for the log line). */
export interface CrmEventCounts {
  /** New events of a known type, now handled. */
  accepted: number;
  /** Events whose id was handled before (or came twice in the request): no effect. */
  duplicates: number;
  /** Events of a type the service does not act on. */
  ignored: number;
  /** Stamps marked changed. */
  usersInvalidated: number;
  /** Users queued for a re-sync of their profile (deployed: the backfill's queue). */
  usersQueued: number;
  /** Keys (CRM ids, match-key hashes) that listed more users than are marked for one key. */
  keysTruncated: number;
}

export interface CrmEventDependencies {
  readonly ledger: CrmEventLedger;
  readonly stamps: LinkedStamps;
  /** Where affected users go for a profile re-sync; none locally (`npm start`). */
  readonly queue?: UserQueue | undefined;
  readonly matchKeyHash: MatchKeyHasher;
  readonly clock?: () => number;
  /** Events worked at once; each event's users are worked at once. Default 8. */
  readonly concurrency?: number;
}

/** Thrown when an event names a phone number or email and the hash key cannot be read. */
export class MatchKeyHashUnavailable extends Error {
  override readonly name = 'MatchKeyHashUnavailable';
  constructor() {
    super('the match-key hash secret could not be read; the events were not all handled');
  }
}

/**
 * Handles CRM change events: for each new one, every user whose stamp it may concern (linked to
 * the contact, to the contact a merge kept, or answered for a phone number or email the event
 * names) has the stamp marked changed and is queued for a re-sync. The event's id is recorded
 * only once that is done, so an event that fails half-way is handled again when the CRM sends
 * it again (its work is idempotent: a stamp marked twice, a user queued twice, cost a lookup).
 * Two deliveries of one event at the same moment may both be handled; the effect is the same.
 * Order is not assumed: the CRM is asked for the current record, whatever the event says.
 */
export class CrmEventProcessor {
  private readonly clock: () => number;
  private readonly concurrency: number;

  constructor(private readonly deps: CrmEventDependencies) {
    this.clock = deps.clock ?? Date.now;
    this.concurrency = deps.concurrency ?? 8;
  }

  async process(events: readonly CrmEvent[]): Promise<CrmEventCounts> {
    const counts: CrmEventCounts = {
      accepted: 0,
      duplicates: 0,
      ignored: 0,
      usersInvalidated: 0,
      usersQueued: 0,
      keysTruncated: 0,
    };
    const fresh: Array<Exclude<CrmEvent, { type: 'unknown' }>> = [];
    const seenInRequest = new Set<string>();
    for (const event of events) {
      if (event.type === 'unknown') counts.ignored++;
      else if (seenInRequest.has(event.id)) counts.duplicates++;
      else {
        seenInRequest.add(event.id);
        fresh.push(event);
      }
    }
    const handled = fresh.length
      ? await this.deps.ledger.handled(fresh.map((e) => e.id))
      : new Set();
    const toHandle = fresh.filter((event) => !handled.has(event.id));
    counts.duplicates += fresh.length - toHandle.length;

    // A user several events concern is marked and queued once; each event waits for its users.
    const users = new Map<string, Promise<void>>();
    const changedAt = this.clock();
    await inBatches(toHandle, this.concurrency, async (event) => {
      const affected = await this.affectedUsers(event, counts);
      const mine = affected.filter((userId) => !users.has(userId));
      const work = this.settle(mine, changedAt, counts);
      for (const userId of mine) users.set(userId, work);
      await allOrFirstFailure(affected.map((userId) => users.get(userId) ?? Promise.resolve()));
      await this.deps.ledger.recordHandled(
        event.id,
        this.clock() + (EVENT_ID_RETENTION_DAYS + 1) * 86_400_000,
      );
      counts.accepted++;
    });
    return counts;
  }

  /** The users an event may concern, each once. */
  private async affectedUsers(
    event: Exclude<CrmEvent, { type: 'unknown' }>,
    counts: CrmEventCounts,
  ): Promise<string[]> {
    const { stamps } = this.deps;
    const lookups: Array<Promise<ListedUsers>> = [stamps.usersLinkedTo(event.crmId)];
    if (event.mergedInto !== undefined) lookups.push(stamps.usersLinkedTo(event.mergedInto));
    for (const key of event.hints) {
      lookups.push(
        this.deps.matchKeyHash(key).then((hash) => {
          if (hash === undefined) throw new MatchKeyHashUnavailable();
          return stamps.usersMatching(hash);
        }),
      );
    }
    const listed = await allOrFirstFailure(lookups);
    counts.keysTruncated += listed.filter((l) => l.more).length;
    return [...new Set(listed.flatMap((l) => l.users))];
  }

  /** Marks the users' stamps changed, then queues the users (ten to a message batch). */
  private async settle(userIds: readonly string[], at: number, counts: CrmEventCounts) {
    if (userIds.length === 0) return;
    await inBatches(userIds, this.concurrency, async (userId) => {
      if ((await this.deps.stamps.invalidate(userId, at)) === 'invalidated') {
        counts.usersInvalidated++;
      }
    });
    const { queue } = this.deps;
    if (!queue) return;
    const batches: string[][] = [];
    for (let i = 0; i < userIds.length; i += 10) batches.push(userIds.slice(i, i + 10));
    await inBatches(batches, this.concurrency, (batch) =>
      queue.send(batch.map((user_id) => ({ user_id, source: 'crm_event' as const }))),
    );
    counts.usersQueued += userIds.length;
  }
}

/**
 * Every promise's value, or the first failure once every one has settled: nothing of a failed
 * request may still run once it is answered (a Lambda is frozen then).
 */
async function allOrFirstFailure<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * Runs `work` on every item, at most `concurrency` at a time. After a failure no item is
 * started, the ones under way are finished (nothing may still run once the request is
 * answered: a Lambda is frozen then), and the first failure is thrown.
 */
async function inBatches<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (!failed && next < items.length) {
      try {
        await work(items[next++] as T);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  await allOrFirstFailure(lanes);
}
