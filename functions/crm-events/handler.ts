import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { loadCrmEventsConfig } from '#shared/crm-events-config.ts';
import { buildCrmEventsApi } from './build.ts';

// Parsed once per instance: a wrong setting fails the cold start with a message naming it.
export const handler = buildCrmEventsApi(loadCrmEventsConfig(process.env), {
  dynamodb: new DynamoDBClient({}),
  secretsManager: new SecretsManagerClient({}),
  sqs: new SQSClient({}),
});
