import type { BatchGetItemCommandOutput, DynamoDBClient } from '@aws-sdk/client-dynamodb';

/**
 * Makes the next `answers` BatchGetItem answers of `client` hold back all but `keep` of their
 * items as UnprocessedKeys, as a throttled DynamoDB does. dynalite never does it itself, so a
 * middleware on the real SDK client edits dynalite's real answer.
 */
export function holdBackBatchGet(
  client: DynamoDBClient,
  tableName: string,
  options: { answers: number; keep: number },
): void {
  let left = options.answers;
  client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const output = result.output as BatchGetItemCommandOutput;
      const items = output.Responses?.[tableName];
      if (left > 0 && items && items.length > options.keep) {
        left--;
        const held = items.splice(options.keep);
        output.UnprocessedKeys = {
          [tableName]: { Keys: held.map((item) => ({ user_id: item.user_id as { S: string } })) },
        };
      }
      return result;
    },
    { step: 'initialize', name: 'holdBackBatchGet' },
  );
}
