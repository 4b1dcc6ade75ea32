import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { MissingScopeError } from '#shared/adapters/auth0-errors.ts';
import { embeddedMetrics, outcomeMetrics } from '#shared/composition/metrics.ts';
import {
  addOutcome,
  type BackfillCounts,
  type BackfillOutcome,
  type BackfillUserSync,
  emptyCounts,
  RetryLater,
} from '#shared/domain/backfill.ts';
import type { ExportedUser } from '#shared/domain/ports.ts';
import { isUserId } from '#shared/domain/sync-request.ts';

export interface BackfillWorkerOptions {
  readonly clock?: (() => number) | undefined;
  /** Told each batch's counts (the local run adds them up; in AWS the batch log line does). */
  readonly onBatch?: ((batch: { counts: BackfillCounts; retried: number }) => void) | undefined;
}

/**
 * Syncs the users of one SQS batch, all at once (the shared rate limiters pace the CRM and
 * Auth0 calls). A user that must be retried (a 429, a 5xx, the CRM down) or that failed is
 * reported as a batch item failure: SQS delivers it again after the visibility timeout, and
 * moves it to the dead-letter queue after the queue's maxReceiveCount. One user never stops
 * the others. One log line per batch carries the counts as CloudWatch metrics.
 */
export function createBackfillWorker(
  worker: () => Promise<BackfillUserSync>,
  logger: Logger,
  options: BackfillWorkerOptions = {},
) {
  const clock = options.clock ?? Date.now;
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const started = clock();
    const sync = await worker();
    const counts = emptyCounts();
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    let retried = 0;
    const results = await Promise.allSettled(event.Records.map((record) => syncOne(sync, record)));
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') {
        addOutcome(counts, result.value);
        return;
      }
      const record = event.Records[i] as SQSRecord;
      batchItemFailures.push({ itemIdentifier: record.messageId });
      const error = result.reason as Error;
      if (error instanceof RetryLater) {
        retried++;
      } else {
        counts.failed++;
        // The error's name only: messages of SDK errors can carry request details. A missing
        // scope also names the scopes to grant and what they are for, which hold no user data.
        const userId = messageUserId(record);
        logger.warn('backfill user failed', {
          ...(userId === undefined ? {} : { user_id: userId }),
          fault: error?.name ?? 'Error',
          ...(error instanceof MissingScopeError
            ? { scopes: error.scopes, operation: error.operation }
            : {}),
          receive_count: Number(record.attributes?.ApproximateReceiveCount ?? 0),
        });
      }
    });
    const ms = Math.max(1, clock() - started);
    logger.info('backfill batch', {
      users: event.Records.length,
      retried,
      users_per_second: Math.round((counts.checked / ms) * 1000 * 10) / 10,
      ...embeddedMetrics(
        {},
        {
          ...outcomeMetrics(counts),
          BackfillRetried: { value: retried, unit: 'Count' },
          BackfillBatchDuration: { value: ms, unit: 'Milliseconds' },
          BackfillUsersPerSecond: {
            value: Math.round((counts.checked / ms) * 1000 * 10) / 10,
            unit: 'Count/Second',
          },
        },
      ),
    });
    options.onBatch?.({ counts, retried });
    return { batchItemFailures };
  };
}

/**
 * The user id of a message, for its failure line: only a well-formed one. The rest of the
 * message (phone number, email) never reaches the log.
 */
function messageUserId(record: SQSRecord): string | undefined {
  try {
    const userId = (JSON.parse(record.body) as { user_id?: unknown } | null)?.user_id;
    return isUserId(userId) ? userId : undefined;
  } catch {
    return undefined;
  }
}

async function syncOne(sync: BackfillUserSync, record: SQSRecord): Promise<BackfillOutcome> {
  const user = JSON.parse(record.body) as ExportedUser;
  if (typeof user?.user_id !== 'string') throw new TypeError('the message holds no user_id');
  return sync.sync(user);
}
