import type { ClaimFields, ClaimMapping } from './claims.ts';
import { SyncApiError } from './errors.ts';
import type {
  ExportedUser,
  ProfileWriter,
  StampReader,
  SyncStamp,
  UserQueue,
  UserReader,
} from './ports.ts';
import { stampBasis } from './stamp-basis.ts';
import type { SyncService } from './sync.ts';
import { profileSyncRequest, type RequestPolicy } from './sync-request.ts';
import { toSyncResponse } from './sync-response.ts';

/** The user must be tried again later (a 429, the CRM down); the message is not lost. */
export class RetryLater extends Error {
  constructor(
    readonly reason: string,
    readonly afterSeconds?: number,
  ) {
    super(`retry later: ${reason}`);
    this.name = 'RetryLater';
  }
}

export type BackfillOutcome = 'changed' | 'unchanged' | 'not_found' | 'skipped';

export interface BackfillCounts {
  checked: number;
  changed: number;
  unchanged: number;
  notFound: number;
  skipped: number;
  failed: number;
}

export const emptyCounts = (): BackfillCounts => ({
  checked: 0,
  changed: 0,
  unchanged: 0,
  notFound: 0,
  skipped: 0,
  failed: 0,
});

export function addOutcome(counts: BackfillCounts, outcome: BackfillOutcome | 'failed'): void {
  counts.checked++;
  if (outcome === 'changed') counts.changed++;
  else if (outcome === 'unchanged') counts.unchanged++;
  else if (outcome === 'not_found') counts.notFound++;
  else if (outcome === 'skipped') counts.skipped++;
  else counts.failed++;
}

/** What counts as a change worth a profile write: the link and the mapped fields, not the dates. */
function linkOf(crm: unknown): string | undefined {
  if (typeof crm !== 'object' || crm === null) return undefined;
  const { id, namespace, fields } = crm as { id?: unknown; namespace?: unknown; fields?: unknown };
  return JSON.stringify([id ?? null, namespace ?? null, sortedFields(fields)]);
}

function sortedFields(fields: unknown): Array<[string, unknown]> {
  if (typeof fields !== 'object' || fields === null) return [];
  return Object.entries(fields as ClaimFields).sort(([a], [b]) => a.localeCompare(b));
}

/** Whether the exported metadata still has to be looked at today. */
export function isFreshInProfile(user: ExportedUser, now: number): boolean {
  const freshUntil = (user.crm as { fresh_until?: unknown } | undefined)?.fresh_until;
  return typeof freshUntil === 'string' && Date.parse(freshUntil) > now;
}

/**
 * Whether a stamp already settles this user today: fresh for the same match key and mapping,
 * and the profile already carries its link and fields. Lets a second run skip finished users.
 */
export function isSettledByStamp(
  user: ExportedUser,
  stamp: SyncStamp | undefined,
  basis: string | undefined,
  namespace: string,
  now: number,
): boolean {
  if (!stamp || !basis || stamp.basis !== basis || stamp.freshUntil <= now) return false;
  return linkOf(user.crm) === JSON.stringify([stamp.crmId, namespace, sortedFields(stamp.fields)]);
}

/**
 * Syncs one exported user with the login path's own use case (so the CRM is still asked at most
 * once per user per sync day) and writes the profile only when the link or a field changed:
 * the export carries the current value, so no user is read again.
 */
export class BackfillUserSync {
  constructor(
    private readonly deps: {
      readonly service: SyncService;
      readonly writer: ProfileWriter;
      /** Reads the users a CRM change event queued (their message holds only the id). */
      readonly reader?: UserReader | undefined;
      readonly requestPolicy: RequestPolicy;
      readonly namespace: string;
    },
  ) {}

  async sync(queued: ExportedUser): Promise<BackfillOutcome> {
    const user = queued.source === 'crm_event' ? await this.current(queued.user_id) : queued;
    // Deleted from Auth0 since the event: no profile to write.
    if (user === undefined) return 'skipped';
    const request = profileSyncRequest(user, this.deps.requestPolicy);
    // No usable match key (no phone, an unreadable one): nothing the CRM could find.
    if (!request) return 'skipped';
    let outcome: Awaited<ReturnType<SyncService['sync']>>;
    try {
      outcome = await this.deps.service.sync(request);
    } catch (error) {
      if (error instanceof SyncApiError && error.code === 'crm_unavailable') {
        throw new RetryLater('crm_unavailable');
      }
      throw error;
    }
    // Last known data is no news: try again when the CRM answers.
    if (outcome.status === 'stale') throw new RetryLater('crm_stale');
    const metadata = toSyncResponse(user.user_id, outcome, this.deps.namespace).app_metadata;
    const changed = linkOf(metadata) !== linkOf(user.crm);
    if (changed) await this.deps.writer.writeCrmMetadata(user.user_id, metadata);
    if (metadata.id === null) return 'not_found';
    return changed ? 'changed' : 'unchanged';
  }

  /** The user as Auth0 has them now: phone number, email and `app_metadata.crm`. */
  private async current(userId: string): Promise<ExportedUser | undefined> {
    if (!this.deps.reader) throw new Error('a CRM event re-sync needs a UserReader');
    return this.deps.reader.readUser(userId);
  }
}

export interface EnqueueProgress {
  /** Index in the export of the first user not yet handled: where a resumed run starts. */
  readonly next: number;
  readonly done: boolean;
  readonly exported: number;
  readonly freshInProfile: number;
  readonly settledToday: number;
  readonly skipped: number;
  readonly enqueued: number;
  /** Users queued because DynamoDB left their stamp unread (throttling): extra work, not loss. */
  readonly stampsUnread: number;
}

/** What an enqueue pass counted: its progress without the position. */
export type EnqueueCounts = {
  -readonly [K in Exclude<keyof EnqueueProgress, 'next' | 'done'>]: number;
};

export const noEnqueueCounts = (): EnqueueCounts => ({
  exported: 0,
  freshInProfile: 0,
  settledToday: 0,
  skipped: 0,
  enqueued: 0,
  stampsUnread: 0,
});

/** The sum of two passes' counts (a run's invocations; `?? 0` for state saved before a field). */
export function addEnqueueCounts(a: Partial<EnqueueCounts>, b: EnqueueCounts): EnqueueCounts {
  const sum = noEnqueueCounts();
  for (const key of Object.keys(sum) as Array<keyof EnqueueCounts>)
    sum[key] = (a[key] ?? 0) + b[key];
  return sum;
}

const CHUNK = 100;
const QUEUE_BATCH = 10;

/**
 * Streams the export from `startAt` and queues every user that still needs a look today. A user
 * is passed over when the profile is fresh, or when today's stamp already settles them (so a
 * second run the same day queues nobody who is done). Stops between chunks when `shouldStop`
 * says so; `next` then says where to resume.
 */
export async function enqueueUsersToCheck(
  users: AsyncIterable<ExportedUser>,
  deps: {
    readonly queue: UserQueue;
    readonly stamps: StampReader;
    /** The deployment's claim mapping: a stamp's basis depends on it (stamp-basis.ts). */
    readonly mapping: ClaimMapping;
    readonly requestPolicy: RequestPolicy;
    readonly namespace: string;
    readonly now: number;
    readonly startAt: number;
    /** Asked after each chunk with the progress so far; true ends this call (resume at `next`). */
    readonly shouldStop: (progress: EnqueueProgress) => boolean;
    readonly sendConcurrency?: number;
  },
): Promise<EnqueueProgress> {
  const progress = noEnqueueCounts();
  let index = 0;
  let chunk: ExportedUser[] = [];
  const flush = async () => {
    const candidates: Array<{ user: ExportedUser; basis: string }> = [];
    for (const user of chunk) {
      if (isFreshInProfile(user, deps.now)) {
        progress.freshInProfile++;
        continue;
      }
      const request = profileSyncRequest(user, deps.requestPolicy);
      if (request) candidates.push({ user, basis: stampBasis(request.matchKey, deps.mapping) });
      else progress.skipped++;
    }
    const { stamps, unread } = candidates.length
      ? await deps.stamps.getMany(candidates.map((c) => c.user.user_id))
      : { stamps: new Map<string, SyncStamp>(), unread: [] };
    // An unread stamp settles nobody: the user is queued, and the worker reads it again.
    progress.stampsUnread += unread.length;
    const toQueue = candidates
      .filter(({ user, basis }) => {
        const settled = isSettledByStamp(
          user,
          stamps.get(user.user_id),
          basis,
          deps.namespace,
          deps.now,
        );
        if (settled) progress.settledToday++;
        return !settled;
      })
      .map((c) => c.user);
    const batches: ExportedUser[][] = [];
    for (let i = 0; i < toQueue.length; i += QUEUE_BATCH)
      batches.push(toQueue.slice(i, i + QUEUE_BATCH));
    const concurrency = deps.sendConcurrency ?? 5;
    for (let i = 0; i < batches.length; i += concurrency) {
      await Promise.all(batches.slice(i, i + concurrency).map((b) => deps.queue.send(b)));
    }
    progress.enqueued += toQueue.length;
    chunk = [];
  };

  for await (const user of users) {
    if (index++ < deps.startAt) continue;
    progress.exported++;
    chunk.push(user);
    if (chunk.length === CHUNK) {
      await flush();
      const sofar = { next: index, done: false, ...progress };
      if (deps.shouldStop(sofar)) return sofar;
    }
  }
  await flush();
  return { next: index, done: true, ...progress };
}
