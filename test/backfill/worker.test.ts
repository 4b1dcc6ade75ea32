import { describe, expect, it } from 'vitest';
import { seededCrmMetadata, seededUser } from '#local/backfill/seeded-tenant.ts';
import type { ExportedUser } from '#shared/domain/ports.ts';
import { endOfSyncDay } from '#shared/domain/sync-day.ts';
import { DEFAULT_GRANTED_SCOPES } from '#stand-ins/auth0-management-api/oauth-token.ts';
import type { CrmRequest } from '#stand-ins/crm-server.ts';
import { generatedIndexOf, generatedPhone } from '#stand-ins/demo-data.ts';
import { firstDeliveryEvent } from '#stand-ins/sqs-events.ts';
import { generatedCrmReply, useBackfillEnvironment } from '#test/support/backfill-env.ts';
import { captureLogLines } from '#test/support/log-lines.ts';

/**
 * The SQS worker Lambda's handler as its handler builds it (functions/backfill-worker/build.ts) with the real use case
 * behind it: dynalite, a CRM server, the local Management API through the auth0 SDK.
 */

const crmDown = new Set<string>();

/** The generated CRM, down for the numbers in `crmDown`; user 4 is no longer in it. */
function crmAnswer(request: CrmRequest) {
  const phone = request.body.phoneNumber ?? '';
  if (crmDown.has(phone)) return { status: 503, body: { error: 'down' } };
  if (generatedIndexOf(phone) === 4) return { status: 404, body: { error: 'none' } };
  return generatedCrmReply(request);
}

const env = useBackfillEnvironment({ crm: crmAnswer });

/** Users 0-4 synced yesterday; users 1 and 2 were renamed in the CRM since. */
async function exportedUsers(): Promise<ExportedUser[]> {
  const yesterday = new Date(Date.now() - 86_400_000);
  env.api.seedUsers(5, (i) =>
    seededUser(
      i,
      seededCrmMetadata(i, {
        namespace: env.stack.namespace,
        syncedAt: yesterday,
        freshUntil: endOfSyncDay(yesterday, 'UTC'),
        outdated: i === 1 || i === 2,
      }),
    ),
  );
  const users: ExportedUser[] = [];
  for await (const user of env.stack.exporter.users(await env.stack.exportTenant()))
    users.push(user);
  return users;
}

describe('backfill worker (SQS batch)', () => {
  it('reports the users to retry as batch item failures, counts outcomes as metrics, and loses nobody', async () => {
    const users = await exportedUsers();
    crmDown.clear();
    const handler = env.stack.worker.handler;
    // User 2's write meets a 429; the CRM is down for user 3; one message is not a user at all.
    env.api.failNext(
      1,
      { status: 429, headers: { 'retry-after': '1' } },
      (req) => req.method === 'PATCH' && req.path === '/api/v2/users/sms|user-2',
    );
    crmDown.add(generatedPhone(3));
    const records = [
      ...users.map((user, i) => ({ id: `m-${i}`, body: JSON.stringify(user) })),
      { id: 'm-garbage', body: '{"not":"a user"}' },
    ];

    const first = await captureLogLines(() => handler(firstDeliveryEvent(records)));
    expect(first.result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([
      'm-2',
      'm-3',
      'm-garbage',
    ]);
    const batch = first.lines.filter((e) => e.message === 'backfill batch');
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
    const failedLines = first.lines.filter((e) => e.message === 'backfill user failed');
    expect(failedLines).toEqual([
      expect.objectContaining({ fault: 'TypeError', receive_count: 1 }),
    ]);
    // A message that is not a user names none.
    expect(failedLines[0]).not.toHaveProperty('user_id');
    // Written: user 1 (renamed) and user 4 (no longer in the CRM); not user 2 yet.
    expect(env.api.userWrites).toBe(2);
    expect(env.api.users.get('sms|user-4')?.app_metadata.crm).toMatchObject({
      id: null,
      fields: {},
    });

    // SQS delivers the two retryable users again; the CRM is back.
    crmDown.clear();
    const retry = records.filter((r) => r.id === 'm-2' || r.id === 'm-3');
    const second = await captureLogLines(() => handler(firstDeliveryEvent(retry)));
    expect(second.result.batchItemFailures).toEqual([]);
    expect(second.lines.find((e) => e.message === 'backfill batch')).toMatchObject({
      BackfillChecked: 2,
      BackfillChanged: 1,
      BackfillUnchanged: 1,
      BackfillRetried: 0,
    });
    expect(env.api.users.get('sms|user-2')?.app_metadata.crm).toMatchObject({
      fields: { name: 'Customer 0000002' },
    });
    expect(env.api.userWrites).toBe(3);
    // User 2's retry was answered from today's stamp: one CRM call for it in all.
    const asked = env.crm.requests.map((r) => r.body.phoneNumber);
    expect(asked.filter((p) => p === generatedPhone(2))).toHaveLength(1);
    expect(asked.filter((p) => p === generatedPhone(3))).toHaveLength(2);
  });

  it('a write refused for a missing scope logs which scopes to grant and for what', async () => {
    crmDown.clear();
    // Before the stack's client asks for its first token: the token carries this grant.
    env.api.setGrantedScopes(
      DEFAULT_GRANTED_SCOPES.filter(
        (s) => s !== 'update:users' && s !== 'update:users_app_metadata',
      ),
    );
    const users = await exportedUsers();
    const records = users.map((user, i) => ({ id: `m-${i}`, body: JSON.stringify(user) }));

    const { result, lines } = await captureLogLines(() =>
      env.stack.worker.handler(firstDeliveryEvent(records)),
    );
    // Users 1 and 2 (renamed) and 4 (no longer in the CRM) needed a write.
    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([
      'm-1',
      'm-2',
      'm-4',
    ]);
    const failed = lines.filter((e) => e.message === 'backfill user failed');
    expect(failed).toHaveLength(3);
    // Each line names its user (from the message; never its phone number or email).
    expect(failed.map((line) => line.user_id).sort()).toEqual([
      'sms|user-1',
      'sms|user-2',
      'sms|user-4',
    ]);
    for (const line of failed) {
      expect(line).toMatchObject({
        fault: 'MissingScopeError',
        scopes: ['update:users', 'update:users_app_metadata'],
        operation: 'write app_metadata of users',
      });
    }
    expect(lines.find((e) => e.message === 'backfill batch')).toMatchObject({
      BackfillFailed: 3,
    });
    expect(env.api.userWrites).toBe(0);
  });
});
