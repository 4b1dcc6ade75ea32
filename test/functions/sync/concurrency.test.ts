import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrmServer } from '#test/support/crm-server.ts';
import { ADA, CONTACTS, type SyncHarness, startSyncHarness } from '#test/support/sync-harness.ts';

let h: SyncHarness;
let crm: Awaited<ReturnType<typeof startCrmServer>>;

beforeAll(async () => {
  crm = await startCrmServer(CONTACTS);
  h = await startSyncHarness({ crm, realTime: true, env: { CRM_TIMEOUT_MS: '500' } });
});
afterAll(async () => {
  await h.close();
  await crm.close();
});

describe('many logins of one new user at the same moment', () => {
  it('on two Lambda instances sharing one table ask the CRM exactly once', async () => {
    // Two instances: separate handlers and DynamoDB clients, one table, as in production.
    const a = h.instance();
    const b = h.instance();
    crm.answer(() => ({ status: 200, body: ADA, delayMs: 300 }));
    const body = { user_id: 'sms|burst', phone_number: '+15550100001' };
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).invoke({ body })),
    );
    expect(crm.requests.filter((r) => r.body.phoneNumber === '+15550100001')).toHaveLength(1);
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(results.map((r) => r.body.crm_id)).toEqual(Array(8).fill('C-1001'));
    const statuses = results.map((r) => r.body.status).sort();
    expect(statuses).toEqual([
      'cached',
      'cached',
      'cached',
      'cached',
      'cached',
      'cached',
      'cached',
      'synced',
    ]);
    // Every login sees the claims the winner wrote.
    expect(new Set(results.map((r) => JSON.stringify(r.body.claims))).size).toBe(1);
  });

  it('when the one CRM call fails, the others fall back instead of asking again', async () => {
    const a = h.instance();
    const b = h.instance();
    const before = crm.requests.length;
    crm.answer(() => ({ status: 500, delayMs: 200 }));
    const body = { user_id: 'sms|burst-failing', phone_number: '+15550100002' };
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).invoke({ body })),
    );
    expect(crm.requests.length - before).toBe(1);
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(503));
    crm.answer(undefined);
  });
});

describe('a lookup whose instance died mid-way (its lease is still live)', () => {
  const leaseHeldElsewhere = (userId: string) =>
    h.dynamodb.send(
      new UpdateItemCommand({
        TableName: h.tableName,
        Key: { user_id: { S: userId } },
        UpdateExpression: 'SET lease_owner = :o, lease_until = :u',
        ExpressionAttributeValues: {
          ':o': { S: 'dead-instance' },
          ':u': { N: String(Date.now() + 60_000) },
        },
      }),
    );

  it('a new user gets 503 after a bounded wait, without a second CRM call', async () => {
    await leaseHeldElsewhere('sms|orphaned');
    const before = crm.requests.length;
    const res = await h.invoke({ body: { user_id: 'sms|orphaned', phone_number: '+15550100001' } });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('crm_unavailable');
    expect(crm.requests.length).toBe(before);
  });

  it('a known user gets the last known data as stale', async () => {
    const body = { user_id: 'sms|orphaned-known', phone_number: '+15550100002', force: true };
    const first = await h.invoke({ body });
    expect(first.body.status).toBe('synced');
    await leaseHeldElsewhere('sms|orphaned-known');
    const res = await h.invoke({ body });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'stale',
      crm_id: 'C-1002',
      claims: first.body.claims,
    });
  });
});
