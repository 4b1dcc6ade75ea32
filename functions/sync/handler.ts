import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadSyncServiceConfig } from '#shared/config.ts';
import { buildSyncApi } from './wiring.ts';

// Parsed once per instance: a wrong setting fails the cold start with a message naming it.
export const handler = buildSyncApi(loadSyncServiceConfig(process.env), {
  dynamodb: new DynamoDBClient({}),
});
