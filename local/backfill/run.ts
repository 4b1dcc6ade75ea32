import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  type BackfillCounts,
  type EnqueueProgress,
  emptyCounts,
  enqueueUsersToCheck,
  noEnqueueCounts,
} from '#shared/domain/backfill.ts';
import type { ClaimMapping } from '#shared/domain/claims.ts';
import type { ExportedUser, StampReader } from '#shared/domain/ports.ts';
import type { RequestPolicy } from '#shared/domain/sync-request.ts';
import { sqsEvent } from '#stand-ins/sqs-events.ts';
import type { MemoryQueue } from '#stand-ins/sqs-memory-queue.ts';

/** Where a run stands; `handled` users need nothing more from this run. */
export interface BackfillSnapshot {
  readonly counts: Readonly<BackfillCounts>;
  /** Users read from the export (from `startAt`). */
  readonly exported: number;
  /** Fresh in the profile, settled by today's stamp, or nothing to match on: not queued. */
  readonly passedOver: number;
  readonly enqueued: number;
  readonly handled: number;
  readonly retries: number;
  readonly deadLettered: number;
}

export interface LocalBackfillRun {
  readonly progress: EnqueueProgress;
  /** The workers' outcomes; `failed` counts the dead-lettered users. */
  readonly counts: BackfillCounts;
  readonly seconds: number;
  /** Users checked per second by the workers. */
  readonly usersPerSecond: number;
  /** Batch item failures that came back (a 429, a 5xx, the CRM down) and were tried again. */
  readonly retries: number;
  readonly deadLettered: number;
  /**
   * True when the run was told to stop before the queue drained (Ctrl-C). Its `progress.next`
   * is then no resume point (users below it may still have been in the queue): a new run starts
   * from the top, and today's stamps settle the users this one finished.
   */
  readonly interrupted: boolean;
}

/** The deployed worker's SQS handler, and how its per-batch counts reach this run. */
export interface ShippedWorker {
  readonly handler: (event: SQSEvent) => Promise<SQSBatchResponse>;
  /** Subscribes to each batch's counts until the returned function is called. */
  readonly onBatch: (listener: (counts: BackfillCounts) => void) => () => void;
}

/** How one run goes: its pollers, where it starts and stops, how failed messages come back. */
export interface RunOptions {
  /** Concurrent pollers of the queue, each handing the worker batches of up to ten. */
  readonly workers: number;
  readonly startAt?: number;
  /** Stop reading the export once this many users were read (simulates an interrupted run). */
  readonly stopAfter?: number;
  /** How long a failed message stays invisible before SQS delivers it again (default 1 s). */
  readonly visibilityTimeoutMs?: number;
  readonly onProgress?: (snapshot: BackfillSnapshot) => void;
  /** Aborting stops reading the export and polling the queue; the run then reports its counts. */
  readonly signal?: AbortSignal;
}

// The deployed event source mapping's batch size (infra/constructs/backfill.ts).
const BATCH_SIZE = 10;

/**
 * The deployed backfill's steps, run in one process: stream the export into the queue (as the
 * orchestrator's enqueue step does) while `workers` event-source pollers hand batches of up to
 * ten SQS messages to the shipped worker handler. Its batch item failures stay in the queue
 * and come back once their visibility timeout ends; the others are deleted.
 */
export async function runBackfill(
  options: RunOptions & {
    readonly users: AsyncIterable<ExportedUser>;
    readonly worker: ShippedWorker;
    readonly stamps: StampReader;
    readonly mapping: ClaimMapping;
    readonly requestPolicy: RequestPolicy;
    readonly namespace: string;
    readonly queue: MemoryQueue;
  },
): Promise<LocalBackfillRun> {
  const { queue, signal } = options;
  // Stops the pollers and the export: on Ctrl-C, or when a poller fails (the others must not go
  // on calling a worker whose stack is being closed). Closing the queue releases a waiting send.
  const halt = new AbortController();
  const stopped = () => halt.signal.aborted;
  halt.signal.addEventListener('abort', () => queue.close(), { once: true });
  if (signal?.aborted) halt.abort();
  signal?.addEventListener('abort', () => halt.abort(), { once: true });
  const started = performance.now();
  const counts = emptyCounts();
  const visibilityTimeoutMs = options.visibilityTimeoutMs ?? 1_000;
  let retries = 0;
  let deadLettered = 0;
  let enqueuing = true;
  let latest: EnqueueProgress | undefined;
  const snapshot = (): BackfillSnapshot => {
    const passedOver = latest ? latest.freshInProfile + latest.settledToday + latest.skipped : 0;
    return {
      counts,
      exported: latest?.exported ?? 0,
      passedOver,
      enqueued: latest?.enqueued ?? 0,
      handled: passedOver + counts.checked,
      retries,
      deadLettered,
    };
  };
  // The worker counts a failed attempt; this run counts a user as failed once it is dead-lettered.
  const unsubscribe = options.worker.onBatch((batch) => {
    counts.checked += batch.checked;
    counts.changed += batch.changed;
    counts.unchanged += batch.unchanged;
    counts.notFound += batch.notFound;
    counts.skipped += batch.skipped;
  });

  const enqueue = enqueueUsersToCheck(options.users, {
    queue,
    stamps: options.stamps,
    mapping: options.mapping,
    requestPolicy: options.requestPolicy,
    namespace: options.namespace,
    now: Date.now(),
    startAt: options.startAt ?? 0,
    shouldStop: (progress) => {
      latest = progress;
      if (stopped()) return true;
      options.onProgress?.(snapshot());
      return options.stopAfter !== undefined && progress.exported >= options.stopAfter;
    },
  })
    .then((progress) => {
      latest = progress;
      return progress;
    })
    .finally(() => {
      enqueuing = false;
    });

  const poll = async () => {
    while (!stopped()) {
      const batch = queue.receive(Date.now(), BATCH_SIZE);
      if (batch.length === 0) {
        if (!enqueuing && queue.drained) return;
        await queue.waitForMessage(Date.now());
        continue;
      }
      let failed: Set<string>;
      try {
        const response = await options.worker.handler(sqsEvent(batch));
        failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
      } catch {
        // A handler that throws fails the whole batch: Lambda returns every message to the queue.
        failed = new Set(batch.map((m) => m.messageId));
      }
      for (const message of batch) {
        if (!failed.has(message.messageId)) {
          queue.delete(message.messageId);
          continue;
        }
        retries++;
        const fate = queue.returnLater(message.messageId, visibilityTimeoutMs, Date.now());
        if (fate === 'dead_lettered') {
          deadLettered++;
          counts.checked++;
          counts.failed++;
        }
      }
      options.onProgress?.(snapshot());
    }
  };
  const polling = async () => {
    try {
      await poll();
    } catch (error) {
      halt.abort();
      throw error;
    }
  };
  try {
    // On a halt the pollers finish the batch in hand and the export stops at its next chunk (or
    // at once, if it waits for room in the queue): nothing keeps running after the run returns.
    const [enqueued, polled] = await Promise.allSettled([
      enqueue,
      Promise.all(Array.from({ length: Math.max(1, options.workers) }, polling)),
    ]);
    if (polled.status === 'rejected') throw polled.reason;
    const interrupted = signal?.aborted === true;
    // An enqueue failure (the download broke, DynamoDB down) fails the run once the workers have
    // drained what was queued: nothing queued is dropped on the floor.
    if (enqueued.status === 'rejected' && !interrupted) throw enqueued.reason;
    const progress =
      enqueued.status === 'fulfilled' && !interrupted
        ? enqueued.value
        : { next: 0, ...noEnqueueCounts(), ...latest, done: false };
    const seconds = (performance.now() - started) / 1000;
    return {
      progress,
      counts,
      seconds,
      usersPerSecond: counts.checked / seconds,
      retries,
      deadLettered,
      interrupted,
    };
  } finally {
    unsubscribe();
  }
}

/** Users this run is done with: checked (dead-lettered excluded) or passed over by the export. */
export function handledUsers(run: LocalBackfillRun): number {
  const { counts, progress } = run;
  return (
    counts.checked -
    counts.failed +
    progress.freshInProfile +
    progress.settledToday +
    progress.skipped
  );
}

/** The run's one summary line: counts and rates, never a user's data. */
export function runSummary(run: LocalBackfillRun): Record<string, number | boolean> {
  const { progress, counts } = run;
  return {
    exported: progress.exported,
    ...(run.interrupted ? {} : { next: progress.next }),
    done: progress.done,
    interrupted: run.interrupted,
    fresh_in_profile: progress.freshInProfile,
    settled_today: progress.settledToday,
    skipped: progress.skipped + counts.skipped,
    enqueued: progress.enqueued,
    stamps_unread: progress.stampsUnread,
    checked: counts.checked,
    changed: counts.changed,
    unchanged: counts.unchanged,
    not_found: counts.notFound,
    failed: counts.failed,
    retries: run.retries,
    dead_lettered: run.deadLettered,
    seconds: Math.round(run.seconds * 10) / 10,
    users_per_second: Math.round(run.usersPerSecond),
  };
}
