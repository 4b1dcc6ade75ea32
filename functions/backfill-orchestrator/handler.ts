import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { SqsUserQueue } from '#shared/adapters/sqs-queue.ts';
import { lazyManagementClient } from '#shared/composition/auth0-management.ts';
import { ConfigError, loadBackfillConfig, loadStampReadConfig } from '#shared/config.ts';
import { buildOrchestrator } from './build.ts';
import type { RunState, Step } from './orchestrator.ts';

const backfill = loadBackfillConfig(process.env);
if (!backfill.queueUrl) {
  throw new ConfigError('Invalid configuration: BACKFILL_QUEUE_URL: must name the backfill queue');
}
const secretsManager = new SecretsManagerClient({});
const orchestrate = buildOrchestrator(loadStampReadConfig(process.env), backfill, {
  dynamodb: new DynamoDBClient({}),
  queue: new SqsUserQueue(new SQSClient({}), backfill.queueUrl),
  management: lazyManagementClient({
    domain: backfill.auth0Domain,
    secretId: backfill.auth0SecretId,
    secretsManager,
  }),
});

export const handler = async (input: { step: Step; state: RunState }, context: Context) =>
  orchestrate(input, () => context.getRemainingTimeInMillis());
