import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStampStore } from '#shared/adapters/dynamodb-stamps.ts';
import type { SyncStamp } from '#shared/domain/ports.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { countCommands } from '#stand-ins/local-aws-clients.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';

/** A failed lookup, recorded by the UpdateItem that drops its lease, on dynalite. */

let dynamo: EmbeddedDynamoDb;
let client: DynamoDBClient;
let store: DynamoDbStampStore;
let commands: Map<string, number>;
const TABLE = 'stamps-failures';
const NOW = Date.parse('2026-12-01T09:00:00.000Z');

beforeAll(async () => {
  dynamo = await startEmbeddedDynamoDb();
  client = dynamo.client();
  await ensureStampTable(client, TABLE);
  commands = countCommands(client);
  store = new DynamoDbStampStore({ client, tableName: TABLE, retentionDays: 1 });
});
afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

const stamp = (userId: string): SyncStamp => ({
  userId,
  status: 'synced',
  crmId: 'C-1',
  fields: {},
  syncedAt: NOW - 86_400_000,
  freshUntil: NOW - 3_600_000,
  basis: 'b',
  matchKey: 'email',
});
const lease = (owner: string) => ({
  owner,
  now: NOW,
  until: NOW + 5_000,
  basis: 'b',
  force: false,
  forcedSince: 0,
});
const failure = { code: 'timeout' as const, at: NOW + 1_000, matchKey: 'phone' as const };

describe('releaseLease with a failure', () => {
  it('records code, time and match-key kind in the one UpdateItem that drops the lease', async () => {
    await store.put(stamp('sms|f-1'));
    expect((await store.get('sms|f-1'))?.matchKey).toBe('email');
    await store.acquireLease('sms|f-1', lease('me'));
    commands.clear();
    await store.releaseLease('sms|f-1', 'me', failure);
    expect(Object.fromEntries(commands)).toEqual({ UpdateItemCommand: 1 });
    const entry = await store.get('sms|f-1', { consistent: true });
    expect(entry).toMatchObject({
      lease: undefined,
      lastFailure: { code: 'timeout', at: NOW + 1_000 },
      matchKey: 'phone',
      stamp: { crmId: 'C-1', status: 'synced' },
    });
  });

  it('a stamp written afterwards clears it', async () => {
    await store.acquireLease('sms|f-2', lease('me'));
    await store.releaseLease('sms|f-2', 'me', failure);
    expect((await store.get('sms|f-2'))?.lastFailure).toBeDefined();
    await store.put(stamp('sms|f-2'));
    expect(await store.get('sms|f-2')).toMatchObject({ lastFailure: undefined, matchKey: 'email' });
  });

  it("is not recorded once the lease is someone else's", async () => {
    await store.acquireLease('sms|f-3', lease('me'));
    await store.put(stamp('sms|f-3'));
    await store.releaseLease('sms|f-3', 'me', failure);
    expect((await store.get('sms|f-3'))?.lastFailure).toBeUndefined();
  });

  it('without a failure, leaves none behind', async () => {
    await store.acquireLease('sms|f-4', lease('me'));
    await store.releaseLease('sms|f-4', 'me');
    expect(await store.get('sms|f-4')).toMatchObject({ lastFailure: undefined, lease: undefined });
  });
});
