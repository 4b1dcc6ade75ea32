import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { loadSyncServiceConfig } from '#shared/config.ts';
import { LOGIN_PATH_AWS_CLIENT_OPTIONS } from './aws-clients.ts';
import { buildSyncApi } from './build.ts';

// Parsed once per instance: a wrong setting fails the cold start with a message naming it.
export const handler = buildSyncApi(
  loadSyncServiceConfig(process.env),
  {
    dynamodb: new DynamoDBClient(LOGIN_PATH_AWS_CLIENT_OPTIONS),
    secretsManager: new SecretsManagerClient(LOGIN_PATH_AWS_CLIENT_OPTIONS),
  },
  { warmUp: true },
);
