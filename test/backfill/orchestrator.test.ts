import { describe, expect, it } from 'vitest';
import { buildOrchestrator } from '#functions/backfill-orchestrator/build.ts';
import type { RunState, Step } from '#functions/backfill-orchestrator/orchestrator.ts';
import { seededUserId, seedSyncedTenant } from '#local/backfill/seeded-tenant.ts';
import { loadStampReadConfig } from '#shared/config.ts';
import type { ExportedUser, UserQueue } from '#shared/domain/ports.ts';
import { firstDeliveryEvent } from '#stand-ins/sqs-events.ts';
import { useBackfillEnvironment } from '#test/support/backfill-env.ts';
import { captureLogLines } from '#test/support/log-lines.ts';
import { holdBackBatchGet } from '#test/support/partial-batch-get.ts';

/**
 * The Step Functions steps (functions/backfill-orchestrator/orchestrator.ts): start the export,
 * poll it, enqueue it over several invocations that each stop before their time runs out and
 * resume at `next`, and log one summary line, against the local Management API and dynalite.
 */

const USERS = 2_500;

// The export job is still running at the first poll.
const env = useBackfillEnvironment({ api: { exportPolls: 2 } });

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

/**
 * The orchestrator as its Lambda handler builds it, from the stamp settings alone: no CRM URL,
 * no CRM key, no signing secret in its environment.
 */
function orchestrator(
  queue: UserQueue,
  over: { download?: typeof fetch; clock?: () => number } = {},
) {
  const config = loadStampReadConfig({ TABLE_NAME: env.stack.config.tableName });
  return buildOrchestrator(
    config,
    { connectionId: undefined },
    {
      dynamodb: env.stack.dynamodb,
      queue,
      management: async () => env.api.client(),
      download: over.download ?? env.api.fetch,
      ...(over.clock ? { clock: over.clock } : {}),
    },
  );
}

/** The stand-in's fetch, but every download link has expired by the time it is used. */
function slowDownloads(expiring: number): { fetch: typeof fetch; refused: () => number } {
  let refused = 0;
  return {
    refused: () => refused,
    fetch: async (input, init) => {
      if (refused < expiring) {
        env.api.expireExportLinks();
        refused += 1;
      }
      return env.api.fetch(input, init);
    },
  };
}

const jobPolls = () => env.api.requests.filter((r) => /^\/api\/v2\/jobs\/job_/.test(r.path)).length;

describe('backfill orchestrator steps', () => {
  it('start → status → enqueue (stops before the time runs out, resumes at next) → one summary line', async () => {
    seedSyncedTenant(env.api, { users: USERS, changedShare: 0.05, namespace: env.stack.namespace });
    // 20 users with no phone number (nothing to match on); the first 30 already synced today
    // (29 settled by their stamp, and user 19, renamed in the CRM, written: fresh in the profile).
    env.api.seedUsers(20, (i) => ({ user_id: seededUserId(i), app_metadata: {} }));
    const before: ExportedUser[] = [];
    for await (const user of env.stack.exporter.users(await env.stack.exportTenant())) {
      if (before.length < 30) before.push(user);
    }
    const settle = before.map((user, i) => ({ id: `m-${i}`, body: JSON.stringify(user) }));
    const settled = await env.stack.worker.handler(firstDeliveryEvent(settle));
    expect(settled.batchItemFailures).toEqual([]);

    const queue = memoryQueue();
    let remaining = 550_000;
    const orchestrate = orchestrator(queue);
    // Each check of the clock costs this invocation 50 s of its 15 minutes.
    const remainingMs = () => {
      remaining -= 50_000;
      return remaining;
    };
    const step = (name: Step, state: RunState) => orchestrate({ step: name, state }, remainingMs);

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
    const settledIds = new Set(before.map((u) => u.user_id));
    expect(queued.some((id) => settledIds.has(id))).toBe(false);
    // What a message carries: the match keys and the current metadata, for the worker.
    expect(queue.batches[0]?.[0]).toEqual({
      user_id: expect.any(String),
      phone_number: expect.stringMatching(/^\+1555\d{7}$/),
      crm: expect.objectContaining({ id: expect.stringMatching(/^C-\d{7}$/) }),
    });

    const { result, lines: entries } = await captureLogLines(() => step('summary', state));
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
    const orchestrate = orchestrator(memoryQueue());
    const remainingMs = () => 600_000;
    const state = await orchestrate({ step: 'start', state: {} }, remainingMs);
    env.api.failExport(state.jobId ?? '');
    const failure = orchestrate({ step: 'status', state }, remainingMs);
    await expect(failure).rejects.toThrow(
      `export job ${state.jobId} failed: Auth0 reports the export job failed`,
    );
    // Its name is the one the state machine does not retry (BACKFILL_NOT_RETRIED_ERRORS).
    await expect(failure).rejects.toMatchObject({ name: 'ExportFailedError' });
    await expect(orchestrate({ step: 'enqueue', state }, remainingMs)).rejects.toThrow(
      /not complete/,
    );
  });

  it('a throttled BatchGetItem: users whose stamp stayed unread are queued and counted, none is passed over', async () => {
    const users = 200;
    seedSyncedTenant(env.api, { users, changedShare: 0, namespace: env.stack.namespace });
    // A first run today settles everyone: the next export would queue nobody.
    const first = await env.stack.run({ location: await env.stack.exportTenant(), workers: 4 });
    expect(first.counts).toMatchObject({ checked: users, unchanged: users });
    // Now DynamoDB answers one stamp per BatchGetItem, however often it is asked.
    holdBackBatchGet(env.stack.dynamodb, env.stack.config.tableName, { answers: 1e6, keep: 1 });

    const queue = memoryQueue();
    const orchestrate = orchestrator(queue);
    const remainingMs = () => 600_000;
    let state = await orchestrate({ step: 'start', state: {} }, remainingMs);
    while (state.exportState !== 'completed')
      state = await orchestrate({ step: 'status', state }, remainingMs);
    state = await orchestrate({ step: 'enqueue', state }, remainingMs);

    const totals = state.totals;
    expect(totals?.stampsUnread).toBeGreaterThan(0);
    expect((totals?.stampsUnread ?? 0) + (totals?.settledToday ?? 0)).toBe(users);
    // The unread ones are checked again by the worker (their stamp answers it: no CRM call).
    expect(queue.batches.flat()).toHaveLength(totals?.stampsUnread ?? -1);
    const { lines } = await captureLogLines(() =>
      orchestrate({ step: 'summary', state }, remainingMs),
    );
    expect(lines.find((l) => l.message === 'backfill run')).toMatchObject({
      stamps_unread: totals?.stampsUnread,
      BackfillStampsUnread: totals?.stampsUnread,
    });
  });

  it('a download link that expired before its download started is replaced: the job is asked again', async () => {
    seedSyncedTenant(env.api, { users: 50, changedShare: 0, namespace: env.stack.namespace });
    const downloads = slowDownloads(1);
    const queue = memoryQueue();
    const orchestrate = orchestrator(queue, { download: downloads.fetch });
    const remainingMs = () => 600_000;
    let state = await orchestrate({ step: 'start', state: {} }, remainingMs);
    while (state.exportState !== 'completed')
      state = await orchestrate({ step: 'status', state }, remainingMs);
    const pollsBefore = jobPolls();
    state = await orchestrate({ step: 'enqueue', state }, remainingMs);
    expect(downloads.refused()).toBe(1);
    // One GET for the link that expired, one for its replacement.
    expect(jobPolls() - pollsBefore).toBe(2);
    expect(state).toMatchObject({ done: true, next: 50 });
    expect(queue.batches.flat()).toHaveLength(50);
  });

  it('links that keep expiring fail the enqueue step after 3 fresh ones, saying so', async () => {
    seedSyncedTenant(env.api, { users: 5, changedShare: 0, namespace: env.stack.namespace });
    const downloads = slowDownloads(Number.POSITIVE_INFINITY);
    const orchestrate = orchestrator(memoryQueue(), { download: downloads.fetch });
    const remainingMs = () => 600_000;
    let state = await orchestrate({ step: 'start', state: {} }, remainingMs);
    while (state.exportState !== 'completed')
      state = await orchestrate({ step: 'status', state }, remainingMs);
    await expect(orchestrate({ step: 'enqueue', state }, remainingMs)).rejects.toThrow(
      /3 fresh download links in a row expired before their download started/,
    );
    expect(downloads.refused()).toBe(3);
  });

  it('a job still pending or processing after 9 hours is given up by the status step', async () => {
    let now = Date.parse('2026-12-01T03:00:00Z');
    const orchestrate = orchestrator(memoryQueue(), { clock: () => now });
    const remainingMs = () => 600_000;
    // Eight hours in, still processing (the first poll, exportPolls: 2): the state machine waits.
    const early = await orchestrate({ step: 'start', state: {} }, remainingMs);
    now += 8 * 3_600_000;
    const waiting = await orchestrate({ step: 'status', state: early }, remainingMs);
    expect(waiting.exportState).toBe('running');
    expect(env.api.jobs.get(early.jobId ?? '')?.status).toBe('processing');
    // Nine hours and a minute in: given up, with the wait in the message.
    const late = await orchestrate({ step: 'start', state: {} }, remainingMs);
    now += 9 * 3_600_000 + 60_000;
    const givenUp = orchestrate({ step: 'status', state: late }, remainingMs);
    await expect(givenUp).rejects.toThrow(
      /still pending or processing after 541 minutes \(more than 540\): giving up/,
    );
    await expect(givenUp).rejects.toMatchObject({ name: 'ExportFailedError' });
  });

  it('without read:users the start step fails naming the scope', async () => {
    env.api.setGrantedScopes(['read:actions', 'update:users']);
    const orchestrate = orchestrator(memoryQueue());
    await expect(orchestrate({ step: 'start', state: {} }, () => 600_000)).rejects.toThrow(
      /may not start a user export .*grant it the scope read:users/,
    );
    await expect(orchestrate({ step: 'start', state: {} }, () => 600_000)).rejects.toMatchObject({
      name: 'MissingScopeError',
    });
  });
});
