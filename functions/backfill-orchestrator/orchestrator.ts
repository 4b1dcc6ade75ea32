import type { Logger } from '@aws-lambda-powertools/logger';
import { embeddedMetrics } from '#functions/sync/metrics.ts';
import type { Auth0UserExport } from '#shared/adapters/auth0-users.ts';
import {
  type EnqueueProgress,
  enqueueUsersToCheck,
  type StampReader,
  type UserQueue,
} from '#shared/domain/backfill.ts';
import type { SyncService } from '#shared/domain/sync.ts';
import type { RequestPolicy } from '#shared/domain/sync-request.ts';

/** The backfill's state between Step Functions steps: all it needs to resume. */
export interface RunState {
  readonly jobId?: string;
  readonly startedAt?: number;
  readonly next?: number;
  readonly done?: boolean;
  readonly exportState?: 'running' | 'completed' | 'failed';
  readonly totals?: Omit<EnqueueProgress, 'next' | 'done'>;
}

export type Step = 'start' | 'status' | 'enqueue' | 'summary';

export interface OrchestratorDependencies {
  readonly export: () => Promise<Auth0UserExport>;
  readonly queue: UserQueue;
  readonly stamps: StampReader;
  readonly service: Pick<SyncService, 'basisOf'>;
  readonly requestPolicy: RequestPolicy;
  readonly namespace: string;
  readonly logger: Logger;
  readonly connectionId?: string | undefined;
  /** Milliseconds this invocation may still run; enqueuing stops with a margin. */
  readonly remainingMs: () => number;
}

const zero = { exported: 0, freshInProfile: 0, settledToday: 0, skipped: 0, enqueued: 0 };

/**
 * The steps the state machine runs: start the export job, poll it, stream it into the queue in
 * as many invocations as it takes (each resumes at `next`), and log one summary per run.
 */
export function createOrchestrator(deps: OrchestratorDependencies) {
  return async (input: { step: Step; state: RunState }): Promise<RunState> => {
    const { state } = input;
    const exporter = await deps.export();
    switch (input.step) {
      case 'start':
        return {
          jobId: await exporter.start(deps.connectionId),
          startedAt: Date.now(),
          next: 0,
          totals: zero,
        };
      case 'status': {
        const status = await exporter.status(required(state.jobId));
        if (status.state === 'failed') throw new Error(`export job ${state.jobId} failed`);
        return { ...state, exportState: status.state };
      }
      case 'enqueue': {
        // The download link expires within a minute; every invocation asks for a fresh one.
        const status = await exporter.status(required(state.jobId));
        if (status.state !== 'completed')
          throw new Error(`export job ${state.jobId} is not complete`);
        const progress = await enqueueUsersToCheck(exporter.users(status.location), {
          queue: deps.queue,
          stamps: deps.stamps,
          service: deps.service,
          requestPolicy: deps.requestPolicy,
          namespace: deps.namespace,
          now: Date.now(),
          startAt: state.next ?? 0,
          shouldStop: () => deps.remainingMs() < 90_000,
        });
        const before = state.totals ?? zero;
        const totals = {
          exported: before.exported + progress.exported,
          freshInProfile: before.freshInProfile + progress.freshInProfile,
          settledToday: before.settledToday + progress.settledToday,
          skipped: before.skipped + progress.skipped,
          enqueued: before.enqueued + progress.enqueued,
        };
        return { ...state, next: progress.next, done: progress.done, totals };
      }
      case 'summary': {
        const totals = state.totals ?? zero;
        const seconds = Math.max(1, (Date.now() - (state.startedAt ?? Date.now())) / 1000);
        deps.logger.info('backfill run', {
          job_id: state.jobId,
          seconds: Math.round(seconds),
          users_per_second: Math.round(totals.exported / seconds),
          exported: totals.exported,
          fresh_in_profile: totals.freshInProfile,
          settled_today: totals.settledToday,
          skipped: totals.skipped,
          enqueued: totals.enqueued,
          ...embeddedMetrics(
            {},
            {
              BackfillExported: { value: totals.exported, unit: 'Count' },
              BackfillEnqueued: { value: totals.enqueued, unit: 'Count' },
            },
          ),
        });
        return state;
      }
    }
  };
}

function required(jobId: string | undefined): string {
  if (!jobId) throw new Error('the run state has no export job id');
  return jobId;
}
