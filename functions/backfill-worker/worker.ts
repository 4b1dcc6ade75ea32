import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { embeddedMetrics } from '#functions/sync/metrics.ts';
import {
  addOutcome,
  type BackfillUserSync,
  type ExportedUser,
  emptyCounts,
  RetryLater,
} from '#shared/domain/backfill.ts';

/**
 * Syncs the users of one SQS batch. A user that must be retried (a 429, the CRM down) or that
 * failed is reported as a batch item failure: SQS delivers it again later, and moves it to the
 * dead-letter queue after the queue's maxReceiveCount. One user never stops the others.
 */
export function createBackfillWorker(worker: () => Promise<BackfillUserSync>, logger: Logger) {
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const sync = await worker();
    const counts = emptyCounts();
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    let retried = 0;
    for (const record of event.Records) {
      try {
        const user = JSON.parse(record.body) as ExportedUser;
        addOutcome(counts, await sync.sync(user));
      } catch (error) {
        batchItemFailures.push({ itemIdentifier: record.messageId });
        if (error instanceof RetryLater) {
          retried++;
        } else {
          counts.failed++;
          logger.warn('backfill user failed', { fault: (error as Error).name });
        }
      }
    }
    logger.info('backfill batch', {
      retried,
      ...embeddedMetrics(
        {},
        {
          BackfillChecked: { value: counts.checked, unit: 'Count' },
          BackfillChanged: { value: counts.changed, unit: 'Count' },
          BackfillUnchanged: { value: counts.unchanged, unit: 'Count' },
          BackfillNotFound: { value: counts.notFound, unit: 'Count' },
          BackfillFailed: { value: counts.failed, unit: 'Count' },
          BackfillRetried: { value: retried, unit: 'Count' },
        },
      ),
    });
    return { batchItemFailures };
  };
}
