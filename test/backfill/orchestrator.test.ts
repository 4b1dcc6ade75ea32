import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createOrchestrator,
  type RunState,
  type Step,
} from '#functions/backfill-orchestrator/orchestrator.ts';
import {
  type LocalBackfillStack,
  seededUserId,
  seedSyncedTenant,
  startLocalBackfillStack,
} from '#local/backfill-runner.ts';
import type { ExportedUser, UserQueue } from '#shared/domain/backfill.ts';
import {
  type ManagementApi,
  startManagementApi,
  type User,
} from '#stand-ins/auth0-management-api.ts';

/**
 * The Step Functions steps (functions/backfill-orchestrator/orchestrator.ts): start the export,
 * poll it, enqueue it over several invocations that each stop before their time runs out and
 * resume at `next`, and log one summary line, against the local Management API and dynalite.
 */

const USERS = 2_500;

let api: ManagementApi;
let stack: LocalBackfillStack;

beforeEach(async () => {
  // The export job is still running at the first poll.
  api = await startManagementApi({ exportPolls: 2 });
  stack = await startLocalBackfillStack({
    api,
    crmRatePerSecond: 10_000,
    auth0WritesPerSecond: 10_000,
  });
});

afterEach(async () => {
  await stack.close();
  await api.close();
});

/** SQS in memory: what the orchestrator sent, batch by batch. */
function memoryQueue(): UserQueue & { batches: ExportedUser[][] } {
  const batches: ExportedUser[][] = [];
  return {
    batches,
    async send(users) {
      batches.push([...users]);
    },
  };
}

async function structuredLogs<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; entries: Array<Record<string, unknown>> }> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk, ...rest) => {
    lines.push(String(chunk));
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  });
  try {
    const result = await fn();
    const entries = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { result, entries };
  } finally {
    spy.mockRestore();
  }
}

describe('backfill orchestrator steps', () => {
  it('start → status → enqueue (stops before the time runs out, resumes at next) → one summary line', async () => {
    seedSyncedTenant(api, { users: USERS, changedShare: 0.05, namespace: stack.namespace });
    // 20 users with no phone number (nothing to match on); the first 30 already synced today
    // (29 settled by their stamp, and user 19, renamed in the CRM, written: fresh in the profile).
    api.seedUsers(20, (i): User => ({ user_id: seededUserId(i), app_metadata: {} }));
    const before: ExportedUser[] = [];
    for await (const user of stack.exporter.users(await stack.exportTenant())) {
      if (before.length < 30) before.push(user);
    }
    for (const user of before) await stack.worker.sync(user);

    const queue = memoryQueue();
    let remaining = 550_000;
    const orchestrate = createOrchestrator({
      export: async () => stack.exporter,
      queue,
      stamps: stack.stamps,
      service: stack.service,
      requestPolicy: stack.requestPolicy,
      namespace: stack.namespace,
      logger: new Logger({ serviceName: 'backfill-test' }),
      // Each check of the clock costs this invocation 50 s of its 15 minutes.
      remainingMs: () => {
        remaining -= 50_000;
        return remaining;
      },
    });
    const step = (name: Step, state: RunState) => orchestrate({ step: name, state });

    let state = await step('start', {});
    expect(state.jobId).toMatch(/^job_/);
    state = await step('status', state);
    expect(state.exportState).toBe('running');
    state = await step('status', state);
    expect(state.exportState).toBe('completed');

    const invocations: Array<{ next: number | undefined; done: boolean | undefined }> = [];
    while (!state.done) {
      remaining = 550_000;
      state = await step('enqueue', state);
      invocations.push({ next: state.next, done: state.done });
      expect(invocations.length).toBeLessThan(10);
    }
    // 550 s left at the start, a 90 s margin, 50 s a chunk: ten chunks of 100 users each time.
    expect(invocations).toEqual([
      { next: 1_000, done: false },
      { next: 2_000, done: false },
      { next: USERS + 20, done: true },
    ]);

    // Every user to look at was queued exactly once, in batches of at most 10.
    const queued = queue.batches.flat().map((u) => u.user_id);
    expect(new Set(queued).size).toBe(queued.length);
    expect(queued).toHaveLength(USERS - 30);
    expect(Math.max(...queue.batches.map((b) => b.length))).toBeLessThanOrEqual(10);
    const settled = new Set(before.map((u) => u.user_id));
    expect(queued.some((id) => settled.has(id))).toBe(false);
    // What a message carries: the match keys and the current metadata, for the worker.
    expect(queue.batches[0]?.[0]).toEqual({
      user_id: expect.any(String),
      phone_number: expect.stringMatching(/^\+1555\d{7}$/),
      crm: expect.objectContaining({ id: expect.stringMatching(/^C-\d{7}$/) }),
    });

    const { result, entries } = await structuredLogs(() => step('summary', state));
    expect(result).toEqual(state);
    const summary = entries.filter((e) => e.message === 'backfill run');
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({
      job_id: state.jobId,
      done: true,
      invocations: 3,
      exported: USERS + 20,
      enqueued: USERS - 30,
      settled_today: 29,
      skipped: 20,
      fresh_in_profile: 1,
      BackfillExported: USERS + 20,
      BackfillEnqueued: USERS - 30,
      _aws: { CloudWatchMetrics: [{ Namespace: 'Auth0CrmSync' }] },
    });
    expect(typeof summary[0]?.users_per_second).toBe('number');
  });

  it('a failed export job fails the status step', async () => {
    const orchestrate = createOrchestrator({
      export: async () => stack.exporter,
      queue: memoryQueue(),
      stamps: stack.stamps,
      service: stack.service,
      requestPolicy: stack.requestPolicy,
      namespace: stack.namespace,
      logger: new Logger({ serviceName: 'backfill-test' }),
      remainingMs: () => 600_000,
    });
    const state = await orchestrate({ step: 'start', state: {} });
    const job = api.jobs.get(state.jobId ?? '');
    (job as unknown as { status: string }).status = 'failed';
    await expect(orchestrate({ step: 'status', state })).rejects.toThrow(/failed/);
    await expect(orchestrate({ step: 'enqueue', state })).rejects.toThrow(/not complete/);
  });
});
