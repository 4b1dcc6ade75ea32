import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { buildSyncService } from '#functions/sync/wiring.ts';
import { managementClient, parseAuth0Credentials } from '#shared/adapters/auth0-client.ts';
import { Auth0ProfileWriter } from '#shared/adapters/auth0-users.ts';
import { RateLimiter } from '#shared/adapters/rate-limiter.ts';
import { secretReader } from '#shared/adapters/secrets-manager.ts';
import { loadBackfillConfig, loadSyncServiceConfig } from '#shared/config.ts';
import { BackfillUserSync } from '#shared/domain/backfill.ts';
import { createBackfillWorker } from './worker.ts';

const config = loadSyncServiceConfig(process.env);
const backfill = loadBackfillConfig(process.env);
const logger = new Logger({ serviceName: 'crm-sync-backfill' });
const secretsManager = new SecretsManagerClient({});
const { service } = buildSyncService(config, {
  dynamodb: new DynamoDBClient({}),
  secretsManager,
  logger,
  crmLimiter: new RateLimiter(backfill.crmRatePerSecond),
});
const writes = new RateLimiter(backfill.auth0WritesPerSecond);
let worker: Promise<BackfillUserSync> | undefined;

export const handler = createBackfillWorker(() => {
  worker ??= secretReader(secretsManager, backfill.auth0SecretId)()
    .then(
      (raw) =>
        new BackfillUserSync({
          service,
          writer: new Auth0ProfileWriter(
            managementClient({
              domain: backfill.auth0Domain,
              credentials: parseAuth0Credentials(raw),
            }),
            writes,
          ),
          requestPolicy: {
            matchKeys: config.matchKeys,
            defaultPhoneCountry: config.defaultPhoneCountry,
          },
          namespace: config.mapping.namespace,
        }),
    )
    .catch((error: unknown) => {
      // Unreadable or still the placeholder (parseAuth0Credentials throws inside `then`, so a
      // second argument to `then` would not see it): read them again on the next batch.
      worker = undefined;
      throw error;
    });
  return worker;
}, logger);
