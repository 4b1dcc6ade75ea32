import {
  addOutcome,
  type BackfillCounts,
  type BackfillUserSync,
  type EnqueueProgress,
  type ExportedUser,
  emptyCounts,
  enqueueUsersToCheck,
  RetryLater,
  type StampReader,
  type UserQueue,
} from '#shared/domain/backfill.ts';
import type { SyncService } from '#shared/domain/sync.ts';
import type { RequestPolicy } from '#shared/domain/sync-request.ts';

interface Message {
  readonly user: ExportedUser;
  receives: number;
  visibleAt: number;
}

/**
 * SQS as the backfill uses it, in memory: messages become visible again after a failure, and
 * go to a dead-letter list after `maxReceives` (the deployed queue's redrive policy).
 */
export class MemoryQueue implements UserQueue {
  private readonly messages: Message[] = [];
  readonly deadLetters: ExportedUser[] = [];
  sent = 0;

  constructor(private readonly maxReceives = 5) {}

  async send(users: readonly ExportedUser[]): Promise<void> {
    if (users.length > 10) throw new Error('SQS batches hold at most 10 messages');
    for (const user of users) this.messages.push({ user, receives: 0, visibleAt: 0 });
    this.sent += users.length;
  }

  receive(now: number): Message | undefined {
    const index = this.messages.findIndex((m) => m.visibleAt <= now);
    if (index < 0) return undefined;
    const [message] = this.messages.splice(index, 1);
    if (message) message.receives++;
    return message;
  }

  /** A failed message comes back later, unless it has failed too often. */
  returnLater(message: Message, delayMs: number, now: number): 'requeued' | 'dead_lettered' {
    if (message.receives >= this.maxReceives) {
      this.deadLetters.push(message.user);
      return 'dead_lettered';
    }
    message.visibleAt = now + delayMs;
    this.messages.push(message);
    return 'requeued';
  }

  get depth(): number {
    return this.messages.length;
  }
}

export interface LocalBackfillRun {
  readonly progress: EnqueueProgress;
  readonly counts: BackfillCounts;
  readonly seconds: number;
  /** Users checked per second by the workers. */
  readonly usersPerSecond: number;
  readonly retries: number;
}

/**
 * The deployed backfill's steps, run in one process: stream the export into the queue while
 * `workers` consumers sync users with the login path's own code, until the queue drains.
 */
export async function runBackfill(options: {
  readonly users: AsyncIterable<ExportedUser>;
  readonly worker: BackfillUserSync;
  readonly stamps: StampReader;
  readonly service: Pick<SyncService, 'basisOf'>;
  readonly requestPolicy: RequestPolicy;
  readonly namespace: string;
  readonly queue: MemoryQueue;
  readonly workers: number;
  readonly startAt?: number;
  /** Stop enqueuing after this many users (simulates an interrupted run). */
  readonly stopAfter?: number;
  readonly onProgress?: (counts: BackfillCounts, queued: number) => void;
}): Promise<LocalBackfillRun> {
  const started = performance.now();
  const counts = emptyCounts();
  let retries = 0;
  let enqueuing = true;
  const enqueue = enqueueUsersToCheck(options.users, {
    queue: options.queue,
    stamps: options.stamps,
    service: options.service,
    requestPolicy: options.requestPolicy,
    namespace: options.namespace,
    now: Date.now(),
    startAt: options.startAt ?? 0,
    shouldStop: () => options.stopAfter !== undefined && options.queue.sent >= options.stopAfter,
  }).finally(() => {
    enqueuing = false;
  });

  const consume = async () => {
    for (;;) {
      const message = options.queue.receive(Date.now());
      if (!message) {
        if (!enqueuing && options.queue.depth === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 2));
        continue;
      }
      try {
        addOutcome(counts, await options.worker.sync(message.user));
      } catch (error) {
        const delay = error instanceof RetryLater ? (error.afterSeconds ?? 1) * 1000 : 1000;
        retries++;
        if (options.queue.returnLater(message, delay, Date.now()) === 'dead_lettered') {
          addOutcome(counts, 'failed');
        }
      }
      options.onProgress?.(counts, options.queue.sent);
    }
  };
  const [progress] = await Promise.all([
    enqueue,
    ...Array.from({ length: options.workers }, consume),
  ]);
  const seconds = (performance.now() - started) / 1000;
  return { progress, counts, seconds, usersPerSecond: counts.checked / seconds, retries };
}
