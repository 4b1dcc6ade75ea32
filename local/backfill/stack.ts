import { randomBytes, randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { buildBackfillWorker } from '#functions/backfill-worker/build.ts';
import { buildCrmEventsApi } from '#functions/crm-events/build.ts';
import { Auth0UserExport } from '#shared/adapters/auth0-user-export.ts';
import { DynamoDbStampStore } from '#shared/adapters/dynamodb-stamps.ts';
import { RateLimiter } from '#shared/adapters/rate-limiter.ts';
import { loadSyncServiceConfig, type SyncServiceConfig } from '#shared/config.ts';
import { loadCrmEventsConfig } from '#shared/crm-events-config.ts';
import type { BackfillCounts } from '#shared/domain/backfill.ts';
import type { StampReader } from '#shared/domain/ports.ts';
import type { RequestPolicy } from '#shared/domain/sync-request.ts';
import type { ManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { DEMO_CRM_API_KEY, type DemoCrm, startDemoCrm } from '#stand-ins/demo-crm.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { MemoryQueue } from '#stand-ins/sqs-memory-queue.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { type LocalBackfillRun, type RunOptions, runBackfill, type ShippedWorker } from './run.ts';

export interface LocalBackfillStackOptions {
  /** The Management API stand-in (startManagementApi); the stack does not close it. */
  readonly api: ManagementApi;
  /** The CRM; default: the demo CRM answering every +1 555 number (generated: true). */
  readonly crm?: { readonly url: string; readonly apiKey: string };
  /** A DynamoDB endpoint to use; default: an embedded dynalite the stack starts and stops. */
  readonly dynamodb?: DynamoDBClient;
  readonly tableName?: string;
  /** The CRM budget of the workers, calls per second. */
  readonly crmRatePerSecond: number;
  /** The ceiling of the workers' Management API writes; below it their pace follows the tenant. */
  readonly auth0WritesPerSecond: number;
  /** More service settings (CLAIM_MAP, SYNC_TIME_ZONE, ...). */
  readonly env?: Readonly<Record<string, string>>;
  readonly logger?: Logger;
}

export interface LocalBackfillStack {
  readonly config: SyncServiceConfig;
  readonly dynamodb: DynamoDBClient;
  readonly namespace: string;
  readonly requestPolicy: RequestPolicy;
  readonly stamps: StampReader;
  readonly exporter: Auth0UserExport;
  /** The shipped worker's SQS handler, as the Lambda runs it. */
  readonly worker: ShippedWorker;
  readonly crmLimiter: RateLimiter;
  readonly writeLimiter: RateLimiter;
  /** CRM lookups the service made (each passes the CRM limiter once). */
  crmCalls(): number;
  /** Starts an export job and waits until its file can be downloaded. */
  exportTenant(pollMs?: number): Promise<string>;
  /**
   * POST /v1/crm-events on this stack's table (the shipped handler), queuing affected users on
   * `queue`; it checks X-Crm-Signature against `webhookSecret`.
   */
  crmEvents(queue: MemoryQueue, webhookSecret: string): ReturnType<typeof buildCrmEventsApi>;
  /** The shipped worker works what `queue` holds (CRM events' re-syncs) until it is empty. */
  drain(queue: MemoryQueue, options: RunOptions): Promise<LocalBackfillRun>;
  /** One backfill run over the export at `location` (see runBackfill). */
  run(
    options: RunOptions & { readonly location: string; readonly queue?: MemoryQueue },
  ): Promise<LocalBackfillRun>;
  close(): Promise<void>;
}

/**
 * The backfill as deployed, against local stand-ins: the worker is the shipped one
 * (buildBackfillWorker, as its Lambda handler builds it), fed SQS events by the run; the
 * Management API is the one given, the CRM and DynamoDB the demo CRM and dynalite unless
 * others are given.
 */
export async function startLocalBackfillStack(
  options: LocalBackfillStackOptions,
): Promise<LocalBackfillStack> {
  let demoCrm: DemoCrm | undefined;
  let dynamo: EmbeddedDynamoDb | undefined;
  let crm = options.crm;
  if (!crm) {
    demoCrm = await startDemoCrm({ apiKey: DEMO_CRM_API_KEY, generated: true });
    crm = { url: demoCrm.url, apiKey: DEMO_CRM_API_KEY };
  }
  if (!options.dynamodb) dynamo = await startEmbeddedDynamoDb();
  const dynamodb = options.dynamodb ?? (dynamo as EmbeddedDynamoDb).client();
  const tableName = options.tableName ?? `backfill-${randomUUID().slice(0, 8)}`;
  // The stamps' match-key hash key: the worker writes hashes with it, CRM events look them up.
  const matchKeyHashSecret = randomBytes(24).toString('base64url');
  await ensureStampTable(dynamodb, tableName);

  const config = loadSyncServiceConfig({
    ...options.env,
    TABLE_NAME: tableName,
    // The worker signs nothing; the schema wants the API's secret all the same.
    SYNC_SIGNING_SECRET: randomBytes(24).toString('base64url'),
    CRM_URL: crm.url,
    CRM_API_KEY: crm.apiKey,
    MATCH_KEY_HASH_SECRET: matchKeyHashSecret,
  });
  const logger = options.logger ?? new Logger({ serviceName: 'crm-sync-backfill' });
  // A burst of a tenth of a second: a run's figure is its steady rate, not a second's head start.
  const crmLimiter = new RateLimiter(
    options.crmRatePerSecond,
    Math.max(1, Math.ceil(options.crmRatePerSecond / 10)),
  );
  const writeLimiter = new RateLimiter(options.auth0WritesPerSecond);
  let crmCalls = 0;
  const listeners = new Set<(counts: BackfillCounts) => void>();
  const client = options.api.client();
  const handler = buildBackfillWorker(
    config,
    {
      crmRatePerSecond: options.crmRatePerSecond,
      auth0WritesPerSecond: options.auth0WritesPerSecond,
    },
    {
      dynamodb,
      logger,
      management: async () => client,
      crmLimiter: {
        take: () => {
          crmCalls++;
          return crmLimiter.take();
        },
        pauseUntil: (epochMs: number) => crmLimiter.pauseUntil(epochMs),
      },
      writeLimiter,
      onBatch: ({ counts }) => {
        for (const listener of listeners) listener(counts);
      },
    },
  );
  const worker: ShippedWorker = {
    handler,
    onBatch: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const stamps = new DynamoDbStampStore({
    client: dynamodb,
    tableName,
    retentionDays: config.stampRetentionDays,
  });
  const requestPolicy: RequestPolicy = {
    matchKeys: config.matchKeys,
    defaultPhoneCountry: config.defaultPhoneCountry,
  };
  const namespace = config.mapping.namespace;
  const exporter = new Auth0UserExport(client, options.api.fetch);

  return {
    config,
    dynamodb,
    namespace,
    requestPolicy,
    stamps,
    exporter,
    worker,
    crmLimiter,
    writeLimiter,
    crmCalls: () => crmCalls,
    async exportTenant(pollMs = 50) {
      const jobId = await exporter.start();
      for (;;) {
        const status = await exporter.status(jobId);
        if (status.state === 'completed') return status.location;
        if (status.state === 'failed') throw new Error(`export job ${jobId} failed`);
        await new Promise((resolve) => setTimeout(resolve, pollMs));
      }
    },
    crmEvents: (queue, webhookSecret) =>
      buildCrmEventsApi(
        loadCrmEventsConfig({
          ...options.env,
          TABLE_NAME: tableName,
          CRM_WEBHOOK_SECRET: webhookSecret,
          MATCH_KEY_HASH_SECRET: matchKeyHashSecret,
        }),
        { dynamodb, logger, queue },
      ),
    drain: (queue, run) =>
      runBackfill({
        ...run,
        users: (async function* () {})(),
        worker,
        stamps,
        mapping: config.mapping,
        requestPolicy,
        namespace,
        queue,
      }),
    run: ({ location, queue, ...run }) =>
      runBackfill({
        ...run,
        users: exporter.users(location),
        worker,
        stamps,
        mapping: config.mapping,
        requestPolicy,
        namespace,
        queue: queue ?? new MemoryQueue(),
      }),
    async close() {
      if (dynamo) {
        dynamodb.destroy();
        await dynamo.close();
      }
      await demoCrm?.close();
    },
  };
}
