import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { lazyManagementClient } from '#shared/composition/auth0-management.ts';
import { loadBackfillConfig, loadSyncServiceConfig } from '#shared/config.ts';
import { buildBackfillWorker } from './build.ts';

const backfill = loadBackfillConfig(process.env);
const secretsManager = new SecretsManagerClient({});

export const handler = buildBackfillWorker(loadSyncServiceConfig(process.env), backfill, {
  dynamodb: new DynamoDBClient({}),
  secretsManager,
  management: lazyManagementClient({
    domain: backfill.auth0Domain,
    secretId: backfill.auth0SecretId,
    secretsManager,
  }),
});
