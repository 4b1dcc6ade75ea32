import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createBackfillWorker } from '#functions/backfill-worker/worker.ts';
import {
  type LocalBackfillStack,
  seededCrmMetadata,
  seededUserId,
  startLocalBackfillStack,
} from '#local/backfill-runner.ts';
import type { ExportedUser } from '#shared/domain/backfill.ts';
import { endOfSyncDay } from '#shared/domain/sync-day.ts';
import {
  type ManagementApi,
  startManagementApi,
  type User,
} from '#stand-ins/auth0-management-api.ts';
import { type CrmServer, startCrmServer } from '#stand-ins/crm-server.ts';
import { generatedContact } from '#stand-ins/demo-crm.ts';

/**
 * The SQS worker Lambda's handler (functions/backfill-worker/worker.ts) with the real use case
 * behind it: dynalite, a CRM server, the local Management API through the auth0 SDK.
 */

let api: ManagementApi;
let crm: CrmServer;
let stack: LocalBackfillStack;
const crmDown = new Set<string>();

beforeEach(async () => {
  api = await startManagementApi();
  crm = await startCrmServer();
  crmDown.clear();
  crm.answer((request) => {
    const phone = request.body.phoneNumber ?? '';
    if (crmDown.has(phone)) return { status: 503, body: { error: 'down' } };
    const contact = generatedContact(phone);
    // User 4 is no longer in the CRM.
    if (!contact || phone.endsWith('0000004')) return { status: 404, body: { error: 'none' } };
    return { status: 200, body: contact };
  });
  stack = await startLocalBackfillStack({
    api,
    crm: { url: crm.url, apiKey: 'test-backfill-crm-key' },
    crmRatePerSecond: 10_000,
    auth0WritesPerSecond: 10_000,
  });
});

afterEach(async () => {
  await stack.close();
  await crm.close();
  await api.close();
});

/** Users 0-4 synced yesterday; users 1 and 2 were renamed in the CRM since. */
async function exportedUsers(): Promise<ExportedUser[]> {
  const yesterday = new Date(Date.now() - 86_400_000);
  api.seedUsers(
    5,
    (i): User => ({
      user_id: seededUserId(i),
      phone_number: `+1555${String(i).padStart(7, '0')}`,
      app_metadata: {
        crm: seededCrmMetadata(i, {
          namespace: stack.namespace,
          syncedAt: yesterday,
          freshUntil: endOfSyncDay(yesterday, 'UTC'),
          outdated: i === 1 || i === 2,
        }),
      },
    }),
  );
  const users: ExportedUser[] = [];
  for await (const user of stack.exporter.users(await stack.exportTenant())) users.push(user);
  return users;
}

function sqsEvent(records: Array<{ id: string; body: string }>): SQSEvent {
  return {
    Records: records.map(({ id, body }) => ({
      messageId: id,
      receiptHandle: `receipt-${id}`,
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '1795000000000',
        SenderId: 'AROAEXAMPLE',
        ApproximateFirstReceiveTimestamp: '1795000000000',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-1:111122223333:backfill-users',
      awsRegion: 'eu-west-1',
    })),
  };
}

/** Runs `fn` and returns the structured log lines it wrote (still passed on to the log capture). */
async function logsOf<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; entries: Array<Record<string, unknown>> }> {
  const lines: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) => {
    const write = stream.write.bind(stream);
    return vi.spyOn(stream, 'write').mockImplementation((chunk, ...rest) => {
      lines.push(String(chunk));
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    });
  });
  try {
    const result = await fn();
    const entries = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    return { result, entries };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

describe('backfill worker (SQS batch)', () => {
  it('reports the users to retry as batch item failures, counts outcomes as metrics, and loses nobody', async () => {
    const users = await exportedUsers();
    const handler = createBackfillWorker(
      async () => stack.worker,
      new Logger({ serviceName: 'backfill-test' }),
    );
    // User 2's write meets a 429; the CRM is down for user 3; one message is not a user at all.
    api.failNext(
      1,
      { status: 429, headers: { 'retry-after': '1' } },
      (req) => req.method === 'PATCH' && req.path === '/api/v2/users/sms|user-2',
    );
    crmDown.add('+15550000003');
    const records = [
      ...users.map((user, i) => ({ id: `m-${i}`, body: JSON.stringify(user) })),
      { id: 'm-garbage', body: '{"not":"a user"}' },
    ];

    const first = await logsOf(() => handler(sqsEvent(records)));
    expect(first.result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([
      'm-2',
      'm-3',
      'm-garbage',
    ]);
    const batch = first.entries.filter((e) => e.message === 'backfill batch');
    expect(batch).toHaveLength(1);
    expect(batch[0]).toMatchObject({
      users: 6,
      retried: 2,
      BackfillChecked: 3,
      BackfillChanged: 1,
      BackfillUnchanged: 1,
      BackfillNotFound: 1,
      BackfillFailed: 1,
      BackfillRetried: 2,
      _aws: { CloudWatchMetrics: [{ Namespace: 'Auth0CrmSync' }] },
    });
    expect(first.entries.filter((e) => e.message === 'backfill user failed')).toEqual([
      expect.objectContaining({ fault: 'TypeError', receive_count: 1 }),
    ]);
    // Written: user 1 (renamed) and user 4 (no longer in the CRM); not user 2 yet.
    expect(api.userWrites).toBe(2);
    expect(api.users.get('sms|user-4')?.app_metadata.crm).toMatchObject({ id: null, fields: {} });

    // SQS delivers the two retryable users again; the CRM is back.
    crmDown.clear();
    const retry = records.filter((r) => r.id === 'm-2' || r.id === 'm-3');
    const second = await logsOf(() => handler(sqsEvent(retry)));
    expect(second.result.batchItemFailures).toEqual([]);
    expect(second.entries.find((e) => e.message === 'backfill batch')).toMatchObject({
      BackfillChecked: 2,
      BackfillChanged: 1,
      BackfillUnchanged: 1,
      BackfillRetried: 0,
    });
    expect(api.users.get('sms|user-2')?.app_metadata.crm).toMatchObject({
      fields: { name: 'Customer 0000002' },
    });
    expect(api.userWrites).toBe(3);
    // User 2's retry was answered from today's stamp: one CRM call for it in all.
    const asked = crm.requests.map((r) => r.body.phoneNumber);
    expect(asked.filter((p) => p === '+15550000002')).toHaveLength(1);
    expect(asked.filter((p) => p === '+15550000003')).toHaveLength(2);
  });
});
