import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbCrmEvents, MAX_USERS_PER_KEY } from '#shared/adapters/dynamodb-crm-events.ts';
import { DynamoDbStampStore } from '#shared/adapters/dynamodb-stamps.ts';
import type { SyncStamp } from '#shared/domain/ports.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';

/** The stamp table's side of CRM change events, on dynalite with the deployed index. */
const TABLE = 'crm-events-adapter';
let dynamo: EmbeddedDynamoDb;
let stamps: DynamoDbStampStore;
let events: DynamoDbCrmEvents;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamoDb();
  const client = dynamo.client();
  await ensureStampTable(client, TABLE);
  stamps = new DynamoDbStampStore({ client, tableName: TABLE, retentionDays: 35 });
  events = new DynamoDbCrmEvents(client, TABLE);
});
afterAll(() => dynamo?.close());

const stamp = (userId: string, syncedAt: number, over: Partial<SyncStamp> = {}): SyncStamp => ({
  userId,
  status: 'synced',
  crmId: 'C-1',
  fields: { name: `as of ${syncedAt}` },
  syncedAt,
  freshUntil: syncedAt + 86_400_000,
  basis: 'b',
  ...over,
});

describe('a stamp marked changed by an event', () => {
  it('is not overwritten by a lookup that began before the mark, nor by one older than the stamp', async () => {
    const user = 'sms|race-order';
    expect(await stamps.put(stamp(user, 1_000))).toBe('written');
    expect(await events.invalidate(user, 2_000)).toBe('invalidated');
    expect((await stamps.get(user))?.stamp?.freshUntil).toBe(2_000);
    // Began before the event: its answer may predate the change.
    expect(await stamps.put(stamp(user, 1_500))).toBe('superseded');
    // Began after: written, and the mark goes with the old item.
    expect(await stamps.put(stamp(user, 3_000))).toBe('written');
    // A lookup that outlived its lease lands last: the newer answer stays.
    expect(await stamps.put(stamp(user, 1_500))).toBe('superseded');
    expect((await stamps.get(user))?.stamp?.fields).toEqual({ name: 'as of 3000' });
  });

  it('marks only existing stamps: a key the index lists but the table no longer holds is no stamp', async () => {
    expect(await events.invalidate('sms|nobody-here', 1)).toBe('no_stamp');
    expect(await stamps.get('sms|nobody-here')).toBeUndefined();
  });
});

describe('finding the stamps an event concerns', () => {
  it('lists users by the CRM id they link to, and not_found users by the hash of their key', async () => {
    await stamps.put(stamp('sms|linked-a', 1, { crmId: 'C-77', matchHash: 'hash-a' }));
    await stamps.put(stamp('sms|linked-b', 1, { crmId: 'C-77' }));
    await stamps.put(
      stamp('sms|nobody-yet', 1, { status: 'not_found', crmId: null, matchHash: 'hash-n' }),
    );
    expect([...(await events.usersLinkedTo('C-77')).users].sort()).toEqual([
      'sms|linked-a',
      'sms|linked-b',
    ]);
    expect(await events.usersMatching('hash-n')).toEqual({
      users: ['sms|nobody-yet'],
      more: false,
    });
    // A linked stamp is found by its contact, not by its key.
    expect((await events.usersMatching('hash-a')).users).toEqual([]);

    // Re-linked: the old contact no longer lists the user.
    await stamps.put(stamp('sms|linked-b', 2, { crmId: 'C-78' }));
    expect((await events.usersLinkedTo('C-77')).users).toEqual(['sms|linked-a']);
    expect((await events.usersLinkedTo('C-78')).users).toEqual(['sms|linked-b']);
  });

  it(`lists at most ${MAX_USERS_PER_KEY} users for one key, and says there were more`, async () => {
    for (let i = 0; i < MAX_USERS_PER_KEY; i++) {
      await stamps.put(stamp(`sms|shared-${i}`, 1, { crmId: 'C-SHARED' }));
    }
    const exactly = await events.usersLinkedTo('C-SHARED');
    expect(exactly).toMatchObject({ more: false });
    expect(exactly.users).toHaveLength(MAX_USERS_PER_KEY);
    await stamps.put(stamp('sms|shared-one-more', 1, { crmId: 'C-SHARED' }));
    const beyond = await events.usersLinkedTo('C-SHARED');
    expect(beyond).toMatchObject({ more: true });
    expect(beyond.users).toHaveLength(MAX_USERS_PER_KEY);
  });

  it('indexes no CRM id too long to be a key, and the stamp is still written', async () => {
    const long = 'C'.repeat(1_100);
    expect(await stamps.put(stamp('sms|long-id', 1, { crmId: long }))).toBe('written');
    expect((await events.usersLinkedTo(long)).users).toEqual([]);
    expect((await stamps.get('sms|long-id'))?.stamp?.crmId).toBe(long);
  });
});

describe('the ledger of handled events', () => {
  it('remembers handled ids, whatever their length or characters', async () => {
    const ids = ['evt-1', 'x'.repeat(256), 'ünïcødé id'];
    expect(await events.handled(ids)).toEqual(new Set());
    await events.recordHandled(ids[1] as string, Date.now() + 1_000);
    await events.recordHandled(ids[2] as string, Date.now() + 1_000);
    expect(await events.handled(ids)).toEqual(new Set(ids.slice(1)));
  });
});
