import {
  type AttributeValue,
  BatchGetItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';

type Key = Record<string, AttributeValue>;
type Item = Record<string, AttributeValue>;

/** Reads of a BatchGetItem's unprocessed keys: the first and this many retries in all. */
const BATCH_GET_ATTEMPTS = 8;
const BATCH_GET_BASE_DELAY_MS = 50;

/**
 * Up to 100 items of one table in one BatchGetItem. DynamoDB may answer part of it and hand back
 * the rest as UnprocessedKeys (a throttled partition, the 16 MB response cap); those are asked
 * again with exponential backoff, as AWS advises. Keys still unprocessed after the last attempt
 * are returned as `unread`, never passed off as "no item".
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
 */
export async function batchGetItems(
  client: DynamoDBClient,
  tableName: string,
  firstKeys: readonly Key[],
  options: { readonly consistent?: boolean; readonly sleep: (ms: number) => Promise<void> },
): Promise<{ items: Item[]; unread: Key[] }> {
  const items: Item[] = [];
  let keys = [...firstKeys];
  for (let attempt = 0; keys.length > 0 && attempt < BATCH_GET_ATTEMPTS; attempt++) {
    if (attempt > 0) {
      // Full jitter: 0 to 50 ms, 100 ms, 200 ms, ... so retrying readers do not move together.
      await options.sleep(Math.random() * BATCH_GET_BASE_DELAY_MS * 2 ** (attempt - 1));
    }
    const result = await client.send(
      new BatchGetItemCommand({
        RequestItems: {
          [tableName]: { Keys: keys, ConsistentRead: options.consistent ?? false },
        },
      }),
    );
    items.push(...(result.Responses?.[tableName] ?? []));
    keys = result.UnprocessedKeys?.[tableName]?.Keys ?? [];
  }
  return { items, unread: keys };
}
