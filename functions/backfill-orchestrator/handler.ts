import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { buildSyncService } from '#functions/sync/wiring.ts';
import { managementClient, parseAuth0Credentials } from '#shared/adapters/auth0-client.ts';
import { Auth0UserExport } from '#shared/adapters/auth0-users.ts';
import { DynamoDbStampStore } from '#shared/adapters/dynamodb-stamps.ts';
import { secretReader } from '#shared/adapters/secrets-manager.ts';
import { SqsUserQueue } from '#shared/adapters/sqs-queue.ts';
import { ConfigError, loadBackfillConfig, loadSyncServiceConfig } from '#shared/config.ts';
import { createOrchestrator, type RunState, type Step } from './orchestrator.ts';

const config = loadSyncServiceConfig(process.env);
const backfill = loadBackfillConfig(process.env);
const logger = new Logger({ serviceName: 'crm-sync-backfill' });
const secretsManager = new SecretsManagerClient({});
const dynamodb = new DynamoDBClient({});
const { service } = buildSyncService(config, { dynamodb, secretsManager, logger });
if (!backfill.queueUrl) {
  throw new ConfigError('Invalid configuration: BACKFILL_QUEUE_URL: must name the backfill queue');
}
const queue = new SqsUserQueue(new SQSClient({}), backfill.queueUrl);
const stamps = new DynamoDbStampStore({
  client: dynamodb,
  tableName: config.tableName,
  retentionDays: config.stampRetentionDays,
});

let exporter: Promise<Auth0UserExport> | undefined;
/** One Management API client per container; the credentials are read again after a failure. */
const userExport = () => {
  exporter ??= secretReader(secretsManager, backfill.auth0SecretId)()
    .then(
      (raw) =>
        new Auth0UserExport(
          managementClient({
            domain: backfill.auth0Domain,
            credentials: parseAuth0Credentials(raw),
          }),
        ),
    )
    .catch((error: unknown) => {
      // Unreadable or still the placeholder: read it again on the next step.
      exporter = undefined;
      throw error;
    });
  return exporter;
};

export const handler = async (input: { step: Step; state: RunState }, context: Context) =>
  createOrchestrator({
    export: userExport,
    queue,
    stamps,
    service,
    requestPolicy: { matchKeys: config.matchKeys, defaultPhoneCountry: config.defaultPhoneCountry },
    namespace: config.mapping.namespace,
    logger,
    connectionId: backfill.connectionId,
    remainingMs: () => context.getRemainingTimeInMillis(),
  })(input);
