import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStampStore } from '#shared/adapters/dynamodb-stamps.ts';
import type { SyncStamp } from '#shared/domain/ports.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { holdBackBatchGet } from '#test/support/partial-batch-get.ts';

/**
 * BatchGetItem may answer part of a request and return the rest as UnprocessedKeys (a
 * throttled partition, the 16 MB cap); holdBackBatchGet makes dynalite's answers do so.
 */

let dynamo: EmbeddedDynamoDb;
let client: DynamoDBClient;
const TABLE = 'stamps-batch';

beforeAll(async () => {
  dynamo = await startEmbeddedDynamoDb();
  client = dynamo.client();
  await ensureStampTable(client, TABLE);
  const writer = new DynamoDbStampStore({ client, tableName: TABLE, retentionDays: 1 });
  for (let i = 0; i < 30; i++) await writer.put(stamp(`sms|u-${i}`));
});

afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

function stamp(userId: string): SyncStamp {
  return {
    userId,
    status: 'synced',
    crmId: `C-${userId}`,
    fields: {},
    syncedAt: 1,
    freshUntil: Date.now() + 3_600_000,
    basis: 'b',
  };
}

/** A client of its own whose next `answers` BatchGetItem answers keep only `keep` items. */
function throttledClient(answers: number, keep: number): DynamoDBClient {
  const throttled = dynamo.client();
  holdBackBatchGet(throttled, TABLE, { answers, keep });
  return throttled;
}

const ids = Array.from({ length: 30 }, (_, i) => `sms|u-${i}`);

describe('DynamoDbStampStore.getMany', () => {
  it('asks again for unprocessed keys, waiting longer each time, until every stamp is read', async () => {
    const waits: number[] = [];
    const store = new DynamoDbStampStore({
      client: throttledClient(3, 5),
      tableName: TABLE,
      retentionDays: 1,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    const { stamps, unread } = await store.getMany(ids);
    expect([...stamps.keys()].sort()).toEqual([...ids].sort());
    expect(unread).toEqual([]);
    expect(waits).toHaveLength(3);
    // Full jitter under a ceiling that doubles: 50, 100, 200 ms.
    waits.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(50 * 2 ** i);
    });
  });

  it('names the users DynamoDB never processed instead of passing them off as "no stamp"', async () => {
    let attempts = 0;
    const store = new DynamoDbStampStore({
      client: throttledClient(100, 1),
      tableName: TABLE,
      retentionDays: 1,
      sleep: async () => {
        attempts++;
      },
    });
    const { stamps, unread } = await store.getMany(ids);
    // Eight attempts, one stamp each; the other 22 are unread, and nobody is in both or neither.
    expect(attempts).toBe(7);
    expect(stamps.size).toBe(8);
    expect(unread).toHaveLength(22);
    expect([...stamps.keys(), ...unread].sort()).toEqual([...ids].sort());
  });
});
