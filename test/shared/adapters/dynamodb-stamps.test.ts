import type { BatchGetItemCommandOutput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStampStore, UnreadStamps } from '#shared/adapters/dynamodb-stamps.ts';
import type { SyncStamp } from '#shared/domain/ports.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';

/**
 * BatchGetItem may answer part of a request and return the rest as UnprocessedKeys (a
 * throttled partition, the 16 MB cap). dynalite never does, so a middleware on the real SDK
 * client moves part of dynalite's real answer into UnprocessedKeys, as DynamoDB would.
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

/** The next `answers` BatchGetItem answers hold back all but `keep` of their items. */
function throttledClient(answers: number, keep: number): DynamoDBClient {
  const throttled = dynamo.client();
  let left = answers;
  throttled.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const output = result.output as BatchGetItemCommandOutput;
      const items = output.Responses?.[TABLE];
      if (left > 0 && items && items.length > keep) {
        left--;
        const held = items.splice(keep);
        output.UnprocessedKeys = {
          [TABLE]: { Keys: held.map((item) => ({ user_id: item.user_id as { S: string } })) },
        };
      }
      return result;
    },
    { step: 'initialize', name: 'partialBatchGet' },
  );
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
    const stamps = await store.getMany(ids);
    expect([...stamps.keys()].sort()).toEqual([...ids].sort());
    expect(waits).toHaveLength(3);
    // Full jitter under a ceiling that doubles: 50, 100, 200 ms.
    waits.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(50 * 2 ** i);
    });
  });

  it('fails rather than answer "no stamp" for keys DynamoDB never processed', async () => {
    const store = new DynamoDbStampStore({
      client: throttledClient(100, 1),
      tableName: TABLE,
      retentionDays: 1,
      sleep: async () => {},
    });
    const error = await store.getMany(ids).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnreadStamps);
    expect((error as UnreadStamps).count).toBeGreaterThan(0);
  });
});
