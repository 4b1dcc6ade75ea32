import type { Logger } from '@aws-lambda-powertools/logger';
import { ExportLinkExpiredError } from '#shared/adapters/auth0-user-export.ts';
import { embeddedMetrics, enqueueMetrics } from '#shared/composition/metrics.ts';
import {
  addEnqueueCounts,
  type EnqueueCounts,
  enqueueUsersToCheck,
  noEnqueueCounts,
} from '#shared/domain/backfill.ts';
import type { ClaimMapping } from '#shared/domain/claims.ts';
import type { ExportedUser, StampReader, UserExport, UserQueue } from '#shared/domain/ports.ts';
import type { RequestPolicy } from '#shared/domain/sync-request.ts';

export type EnqueueTotals = EnqueueCounts;

/** The backfill's state between Step Functions steps: all it needs to resume. */
export interface RunState {
  readonly jobId?: string;
  readonly startedAt?: number;
  /** Index in the export of the first user not yet queued or passed over. */
  readonly next?: number;
  readonly done?: boolean;
  readonly exportState?: 'running' | 'completed' | 'failed';
  /** Enqueue invocations so far. */
  readonly invocations?: number;
  readonly totals?: EnqueueTotals;
}

export type Step = 'start' | 'status' | 'enqueue' | 'summary';

export interface OrchestratorDependencies {
  readonly export: () => Promise<UserExport>;
  readonly queue: UserQueue;
  readonly stamps: StampReader;
  /** The claim mapping: a stamp's basis depends on it, so a changed CLAIM_MAP looks again. */
  readonly mapping: ClaimMapping;
  readonly requestPolicy: RequestPolicy;
  readonly namespace: string;
  readonly logger: Logger;
  readonly connectionId?: string | undefined;
  /** Milliseconds this invocation may still run; enqueuing stops with a margin. */
  readonly remainingMs: () => number;
  /** Below this many remaining milliseconds no further chunk is started (default 90 s). */
  readonly stopMarginMs?: number;
  /**
   * A job still pending or processing this long after the run started is given up (default 9
   * hours, inside the run's 12-hour state machine timeout). Auth0 publishes no limit for export
   * jobs (import jobs fail after two hours); a job stuck longer than this will not finish.
   */
  readonly exportWaitMs?: number;
  readonly clock?: () => number;
}

const zero: EnqueueTotals = noEnqueueCounts();
const NINE_HOURS_MS = 9 * 60 * 60 * 1000;

/**
 * The export job failed or was given up: retrying the step cannot help, so the state machine
 * does not (infra/constructs/backfill.ts); the next scheduled run starts a new export.
 */
export class ExportFailedError extends Error {
  override readonly name = 'ExportFailedError';
}
/** Fresh download links asked for when one has expired before its download started. */
const LINK_ATTEMPTS = 3;

/**
 * The steps the state machine runs: start the export job, poll it, stream it into the queue in
 * as many invocations as it takes (each resumes at `next`), and log one summary per run.
 */
export function createOrchestrator(deps: OrchestratorDependencies) {
  const clock = deps.clock ?? Date.now;
  const margin = deps.stopMarginMs ?? 90_000;
  const exportWaitMs = deps.exportWaitMs ?? NINE_HOURS_MS;
  return async (input: { step: Step; state: RunState }): Promise<RunState> => {
    const state = input.state ?? {};
    switch (input.step) {
      case 'start': {
        const exporter = await deps.export();
        return {
          jobId: await exporter.start(deps.connectionId),
          startedAt: clock(),
          next: 0,
          done: false,
          invocations: 0,
          totals: zero,
        };
      }
      case 'status': {
        const exporter = await deps.export();
        const status = await exporter.status(required(state.jobId));
        if (status.state === 'failed') {
          throw new ExportFailedError(`export job ${state.jobId} failed: ${status.reason}`);
        }
        const waited = clock() - (state.startedAt ?? clock());
        if (status.state === 'running' && waited > exportWaitMs) {
          throw new ExportFailedError(
            `export job ${state.jobId} is still pending or processing after ` +
              `${Math.round(waited / 60_000)} minutes (more than ${Math.round(exportWaitMs / 60_000)}): ` +
              'giving up on this run; the next scheduled run starts a new export',
          );
        }
        return { ...state, exportState: status.state };
      }
      case 'enqueue': {
        const exporter = await deps.export();
        const progress = await enqueueUsersToCheck(
          freshlyLinkedUsers(exporter, required(state.jobId)),
          {
            queue: deps.queue,
            stamps: deps.stamps,
            mapping: deps.mapping,
            requestPolicy: deps.requestPolicy,
            namespace: deps.namespace,
            now: clock(),
            startAt: state.next ?? 0,
            shouldStop: () => deps.remainingMs() < margin,
          },
        );
        const before = state.totals ?? zero;
        // Summed with `?? 0`: a run whose state was saved by a version without a newer count.
        const totals = addEnqueueCounts(before, progress);
        return {
          ...state,
          next: progress.next,
          done: progress.done,
          invocations: (state.invocations ?? 0) + 1,
          totals,
        };
      }
      case 'summary': {
        // Through addEnqueueCounts: totals saved by an older version may lack a newer count.
        const totals = addEnqueueCounts(state.totals ?? {}, zero);
        const seconds = Math.max(1, (clock() - (state.startedAt ?? clock())) / 1000);
        // One line per run: the workers' per-user outcomes are in their batch lines (metrics).
        deps.logger.info('backfill run', {
          job_id: state.jobId,
          done: state.done ?? false,
          invocations: state.invocations ?? 0,
          seconds: Math.round(seconds),
          users_per_second: Math.round((totals.exported / seconds) * 10) / 10,
          exported: totals.exported,
          fresh_in_profile: totals.freshInProfile,
          settled_today: totals.settledToday,
          skipped: totals.skipped,
          enqueued: totals.enqueued,
          stamps_unread: totals.stampsUnread,
          ...embeddedMetrics(
            {},
            {
              ...enqueueMetrics(totals),
              BackfillRunDuration: { value: Math.round(seconds * 1000), unit: 'Milliseconds' },
              BackfillExportedPerSecond: {
                value: Math.round((totals.exported / seconds) * 10) / 10,
                unit: 'Count/Second',
              },
            },
          ),
        });
        return state;
      }
    }
  };
}

/**
 * The export's users from a link asked for now: the link expires within a minute, so every
 * invocation asks the job for a fresh one, and asks again (a few times) when the link was refused
 * at the start of its download as expired. A download that broke after users arrived is not
 * restarted here: the step fails and Step Functions retries it from `next`.
 */
async function* freshlyLinkedUsers(
  exporter: UserExport,
  jobId: string,
): AsyncGenerator<ExportedUser> {
  for (let attempt = 1; ; attempt += 1) {
    const status = await exporter.status(jobId);
    if (status.state !== 'completed') throw new Error(`export job ${jobId} is not complete`);
    let started = false;
    try {
      for await (const user of exporter.users(status.location)) {
        started = true;
        yield user;
      }
      return;
    } catch (error) {
      if (started || !(error instanceof ExportLinkExpiredError)) throw error;
      if (attempt >= LINK_ATTEMPTS) {
        throw new Error(
          `export job ${jobId}: ${LINK_ATTEMPTS} fresh download links in a row expired before their download started`,
          { cause: error },
        );
      }
    }
  }
}

function required(jobId: string | undefined): string {
  if (!jobId) throw new Error('the run state has no export job id');
  return jobId;
}
