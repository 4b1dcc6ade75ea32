import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { STAMP_TABLE } from '#shared/adapters/dynamodb-stamps.ts';

/** Creates the sync-stamp table as the CDK stack defines it, unless it exists already. */
export async function ensureStampTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: STAMP_TABLE.partitionKey, AttributeType: 'S' }],
      KeySchema: [{ AttributeName: STAMP_TABLE.partitionKey, KeyType: 'HASH' }],
    }),
  );
}
