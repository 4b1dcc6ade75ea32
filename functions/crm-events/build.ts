import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDbCrmEvents } from '#shared/adapters/dynamodb-crm-events.ts';
import { SqsUserQueue } from '#shared/adapters/sqs-queue.ts';
import { logAbsorbedFault } from '#shared/composition/operational-logs.ts';
import { secretSource } from '#shared/composition/secrets.ts';
import type { CrmEventsConfig } from '#shared/crm-events-config.ts';
import { CrmEventProcessor } from '#shared/domain/crm-event-processing.ts';
import { matchKeyHash } from '#shared/domain/match-key-hash.ts';
import type { UserQueue } from '#shared/domain/ports.ts';
import { parseSigningSecrets } from '#shared/domain/signature.ts';
import { createCrmEventsApi } from './app.ts';

export interface CrmEventsClients {
  readonly dynamodb: DynamoDBClient;
  readonly secretsManager?: SecretsManagerClient | undefined;
  /** Sends to RESYNC_QUEUE_URL; needed when it is set. */
  readonly sqs?: SQSClient | undefined;
  /** A queue to use instead of SQS (the local backfill's in-memory one). */
  readonly queue?: UserQueue | undefined;
  readonly logger?: Logger | undefined;
  readonly clock?: (() => number) | undefined;
}

/**
 * Builds POST /v1/crm-events from parsed configuration: what its Lambda, the local stack, the
 * tests and the benchmark run.
 */
export function buildCrmEventsApi(config: CrmEventsConfig, clients: CrmEventsClients) {
  const logger = clients.logger ?? new Logger({ serviceName: 'crm-sync-events' });
  const secret = secretSource({
    maxAgeSeconds: config.secretsMaxAgeSeconds,
    secretsManager: clients.secretsManager,
    clock: clients.clock,
    onFault: logAbsorbedFault(logger),
  });
  const webhook = secret(config.webhookSecret, parseSigningSecrets);
  const hashKey = secret(config.matchKeyHashSecret);
  const queue = clients.queue ?? sqsQueue(config, clients.sqs);
  const store = new DynamoDbCrmEvents(clients.dynamodb, config.tableName);
  const processor = new CrmEventProcessor({
    ledger: store,
    stamps: store,
    queue,
    // An unreadable key fails the request (500): the CRM sends the events again.
    matchKeyHash: async (key) => matchKeyHash(await hashKey.get(), key),
    ...(clients.clock ? { clock: clients.clock } : {}),
  });
  return createCrmEventsApi({
    processor,
    webhookSecrets: () => webhook.get(),
    requestPolicy: { matchKeys: config.matchKeys, defaultPhoneCountry: config.defaultPhoneCountry },
    logger,
    ...(clients.clock ? { clock: clients.clock } : {}),
  });
}

function sqsQueue(config: CrmEventsConfig, sqs: SQSClient | undefined): UserQueue | undefined {
  if (config.queueUrl === undefined) return undefined;
  if (!sqs) throw new Error('RESYNC_QUEUE_URL is set but no SQS client was given');
  return new SqsUserQueue(sqs, config.queueUrl, undefined, config.resyncDelaySeconds);
}
