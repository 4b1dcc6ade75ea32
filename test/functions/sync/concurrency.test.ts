import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCrmServer } from '#stand-ins/crm-server.ts';
import { ADA_LOVELACE, GRACE_HOPPER } from '#stand-ins/demo-data.ts';
import { captureLogLines } from '#test/support/log-lines.ts';
import { ADA, CONTACTS, type SyncHarness, startSyncHarness } from '#test/support/sync-harness.ts';

let h: SyncHarness;
let crm: Awaited<ReturnType<typeof startCrmServer>>;

beforeAll(async () => {
  crm = await startCrmServer(CONTACTS);
  h = await startSyncHarness({
    crm,
    realTime: true,
    env: { CRM_TIMEOUT_MS: '500', ACTION_TIMEOUT_MS: '1000' },
  });
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
    const body = { user_id: 'sms|burst', phone_number: ADA_LOVELACE.phone };
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).invoke({ body })),
    );
    expect(crm.requests.filter((r) => r.body.phoneNumber === ADA_LOVELACE.phone)).toHaveLength(1);
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(results.map((r) => r.body.crm_id)).toEqual(Array(8).fill(ADA_LOVELACE.id));
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
    const body = { user_id: 'sms|burst-failing', phone_number: GRACE_HOPPER.phone };
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? a : b).invoke({ body })),
    );
    expect(crm.requests.length - before).toBe(1);
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(503));
    crm.answer(undefined);
  });
});

describe('concurrent forced refreshes of one user', () => {
  // Each body differs by a field the service ignores, so each is a new signature, not a replay.
  const forcedBodies = (userId: string, n: number) =>
    Array.from({ length: n }, (_, i) => ({
      user_id: userId,
      phone_number: ADA_LOVELACE.phone,
      force: true,
      attempt: i,
    }));

  /** The first request starts the lookup; the others arrive while it is out at the CRM. */
  async function whileFirstIsAsking(
    bodies: object[],
    instances: Array<Pick<SyncHarness, 'invoke'>>,
  ) {
    const [first, ...rest] = bodies;
    const leader = (instances[0] as SyncHarness).invoke({ body: first });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const followers = rest.map((body, i) =>
      (instances[(i + 1) % instances.length] as SyncHarness).invoke({ body }),
    );
    return Promise.all([leader, ...followers]);
  }

  it('a new user: one CRM call, and every request gets its answer (never stale, never 503)', async () => {
    const a = h.instance();
    const b = h.instance();
    crm.answer(() => ({ status: 200, body: ADA, delayMs: 300 }));
    const before = crm.requests.length;
    const results = await whileFirstIsAsking(forcedBodies('sms|forced-burst', 8), [a, b]);
    expect(crm.requests.length - before).toBe(1);
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(results.map((r) => r.body.status).sort()).toEqual([
      ...Array(7).fill('cached'),
      'synced',
    ]);
    crm.answer(undefined);
  });

  it('a known user synced minutes ago: one CRM call, the others get the refreshed data', async () => {
    const userId = 'sms|forced-known';
    await h.invoke({ body: { user_id: userId, phone_number: ADA_LOVELACE.phone } });
    // Synced three minutes ago: a forced refresh is due.
    await h.dynamodb.send(
      new UpdateItemCommand({
        TableName: h.tableName,
        Key: { user_id: { S: userId } },
        UpdateExpression: 'SET synced_at = :then',
        ExpressionAttributeValues: { ':then': { N: String(Date.now() - 180_000) } },
      }),
    );
    crm.answer(() => ({ status: 200, body: { ...ADA, name: 'Ada King' }, delayMs: 300 }));
    const before = crm.requests.length;
    const results = await whileFirstIsAsking(forcedBodies(userId, 6), [h, h.instance()]);
    expect(crm.requests.length - before).toBe(1);
    expect(results.map((r) => r.body.status)).not.toContain('stale');
    expect(results.map((r) => r.body.claims['https://crm.example.com/name'])).toEqual(
      Array(6).fill('Ada King'),
    );
    crm.answer(undefined);
  });
});

/**
 * Runs `effect` before each poll of a waiter on its own DynamoDB client: its consistent reads
 * after the first (that one follows its refused lease: dynalite returns no item with a failed
 * condition, so the store reads it).
 */
function waiterWhosePolls(effect: () => Promise<void>) {
  const client = h.dynamoClient();
  let consistentReads = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { ConsistentRead?: boolean };
      const isRead = String(context.commandName) === 'GetItemCommand' && input.ConsistentRead;
      if (isRead && ++consistentReads > 1) await effect();
      return next(args);
    },
    { step: 'initialize', name: 'waiterPolls' },
  );
  return h.instance(client);
}

/** A first login asks the CRM (300 ms); 50 ms later `waiter`, on another instance, comes too. */
async function whileAnotherInstanceAsks(
  waiter: ReturnType<SyncHarness['instance']>,
  userId: string,
) {
  crm.answer(() => ({ status: 200, body: ADA, delayMs: 300 }));
  const body = { user_id: userId, phone_number: ADA_LOVELACE.phone };
  const first = h.instance().invoke({ body });
  await new Promise((resolve) => setTimeout(resolve, 50));
  try {
    const { result, lines } = await captureLogLines(() => waiter.invoke({ body }));
    const own = lines.filter((l) => l.correlation_id === result.headers['x-request-id']);
    return { first: await first, waited: result, line: own.find((l) => l.message === 'request') };
  } finally {
    await first.catch(() => {});
    crm.answer(undefined);
  }
}

describe('a waiter whose reads of the stamp fail for a moment', () => {
  it('keeps waiting while the caller listens, and gets the answer', async () => {
    let failed = 0;
    const waiter = waiterWhosePolls(async () => {
      if (failed++ < 2) {
        throw Object.assign(new Error('injected'), {
          name: 'ProvisionedThroughputExceededException',
        });
      }
    });
    const { first, waited } = await whileAnotherInstanceAsks(waiter, 'sms|flaky-reads');
    expect(failed).toBeGreaterThan(2);
    expect([first.body.status, waited.body.status]).toEqual(['synced', 'cached']);
  });
});

describe("a waiter whose read of the stamp hangs past the caller's deadline", () => {
  it('answers by the deadline with what it knows, instead of after it', async () => {
    // Every poll takes 2 s to come back; the caller listens for 700 ms (ACTION_TIMEOUT_MS 1000).
    const waiter = waiterWhosePolls(() => new Promise((resolve) => setTimeout(resolve, 2_000)));
    const { waited, line } = await whileAnotherInstanceAsks(waiter, 'sms|slow-polls');
    // Had it waited for its read, it would have answered "cached" after the Action gave up.
    expect(waited.status).toBe(503);
    expect(line).toMatchObject({ outcome: 'crm_unavailable', crm_fault: 'lookup_elsewhere' });
  });
});

describe("the waiters' budget runs from the request's arrival", () => {
  it('a request that reached API Gateway long ago does not wait at all', async () => {
    await h.dynamodb.send(
      new UpdateItemCommand({
        TableName: h.tableName,
        Key: { user_id: { S: 'sms|late' } },
        UpdateExpression: 'SET lease_owner = :o, lease_until = :u',
        ExpressionAttributeValues: {
          ':o': { S: 'busy-instance' },
          ':u': { N: String(Date.now() + 60_000) },
        },
      }),
    );
    const reads = async (receivedAt: number) => {
      const instance = h.instance();
      const res = await instance.invoke({
        body: { user_id: 'sms|late', phone_number: ADA_LOVELACE.phone },
        receivedAt,
      });
      expect(res.status).toBe(503);
      return instance.commands.get('GetItemCommand') ?? 0;
    };
    const onTime = await reads(Date.now());
    const late = await reads(Date.now() - 10_000);
    // The on-time request polled the lease holder's item until its budget ran out; the late
    // one made only the reads before its lease attempt was refused.
    expect(onTime).toBeGreaterThan(late + 2);
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
    const { result: res, lines } = await captureLogLines(() =>
      h.invoke({ body: { user_id: 'sms|orphaned', phone_number: ADA_LOVELACE.phone } }),
    );
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('crm_unavailable');
    expect(crm.requests.length).toBe(before);
    // A waiter's 503 is visible too: one line, naming the lookup it waited for.
    expect(lines.filter((l) => l.message === 'request')).toMatchObject([
      { outcome: 'crm_unavailable', crm_fault: 'lookup_elsewhere', user_id: 'sms|orphaned' },
    ]);
  });

  it('a known user gets the last known data as stale', async () => {
    const body = { user_id: 'sms|orphaned-known', phone_number: GRACE_HOPPER.phone };
    const first = await h.invoke({ body });
    expect(first.body.status).toBe('synced');
    await leaseHeldElsewhere('sms|orphaned-known');
    // Yesterday's stamp: today's lookup is the one the dead instance was making.
    await h.dynamodb.send(
      new UpdateItemCommand({
        TableName: h.tableName,
        Key: { user_id: { S: 'sms|orphaned-known' } },
        UpdateExpression: 'SET fresh_until = :past',
        ExpressionAttributeValues: { ':past': { N: String(Date.now() - 1) } },
      }),
    );
    const res = await h.invoke({ body });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'stale',
      crm_id: GRACE_HOPPER.id,
      claims: first.body.claims,
    });
  });
});
