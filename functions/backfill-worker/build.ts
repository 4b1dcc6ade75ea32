import { Logger } from '@aws-lambda-powertools/logger';
import type { ManagementClient } from 'auth0';
import { AdaptivePace, FixedPace, type WritePace } from '#shared/adapters/adaptive-pace.ts';
import { Auth0ProfileWriter } from '#shared/adapters/auth0-profile-writer.ts';
import { Auth0UserReader } from '#shared/adapters/auth0-user-reader.ts';
import { RateLimiter } from '#shared/adapters/rate-limiter.ts';
import {
  buildSyncService,
  type CrmPacer,
  type SyncServiceClients,
} from '#shared/composition/sync-service.ts';
import type { BackfillConfig, SyncServiceConfig } from '#shared/config.ts';
import { BackfillUserSync } from '#shared/domain/backfill.ts';
import { type BackfillWorkerOptions, createBackfillWorker } from './worker.ts';

export interface BackfillWorkerClients extends SyncServiceClients {
  /** The Management API client: from Secrets Manager in AWS, the stand-in's locally. */
  readonly management: () => Promise<ManagementClient>;
  /** Paces CRM calls; default: this worker's CRM_RATE_PER_SECOND. */
  readonly crmLimiter?: CrmPacer | undefined;
  /**
   * A limiter every profile write also waits on (e.g. one shared by the writers of a process);
   * the write pace is this worker's own either way.
   */
  readonly writeLimiter?: RateLimiter | undefined;
  /**
   * `adaptive` (default): AUTH0_WRITES_PER_SECOND is a ceiling, and the pace slows to what the
   * tenant grants (AdaptivePace). `fixed`: the configured rate whatever the tenant answers, the
   * writer's old pace, kept as the benchmark's baseline.
   */
  readonly writePace?: 'adaptive' | 'fixed' | undefined;
  readonly onBatch?: BackfillWorkerOptions['onBatch'];
}

/**
 * The backfill worker's SQS handler, wired as the Lambda runs it: the login path's sync
 * service held to the CRM budget, and the profile writer held to the Management API's. The
 * Lambda handler and `npm run backfill:local` both run this.
 */
export function buildBackfillWorker(
  config: SyncServiceConfig,
  budget: Pick<BackfillConfig, 'crmRatePerSecond' | 'auth0WritesPerSecond'>,
  clients: BackfillWorkerClients,
) {
  const logger = clients.logger ?? new Logger({ serviceName: 'crm-sync-backfill' });
  const { service } = buildSyncService(config, {
    ...clients,
    logger,
    crmLimiter: clients.crmLimiter ?? new RateLimiter(budget.crmRatePerSecond),
  });
  const writes = writePaceOf(budget.auth0WritesPerSecond, clients);
  // One writer per Management API client (a rotated secret brings a new client); every writer
  // shares `writes`, the handler's pace, so what it learnt of the tenant's budget outlives them.
  let writerOf: { client: ManagementClient; sync: BackfillUserSync } | undefined;
  const userSync = async () => {
    const client = await clients.management();
    if (writerOf?.client !== client) {
      writerOf = {
        client,
        sync: new BackfillUserSync({
          service,
          writer: new Auth0ProfileWriter(client, writes),
          reader: new Auth0UserReader(client, writes),
          requestPolicy: {
            matchKeys: config.matchKeys,
            defaultPhoneCountry: config.defaultPhoneCountry,
          },
          namespace: config.mapping.namespace,
        }),
      };
    }
    return writerOf.sync;
  };
  return createBackfillWorker(userSync, logger, { clock: clients.clock, onBatch: clients.onBatch });
}

/**
 * The profile writes' pace. It lives as long as the handler (across batches), so what it
 * learnt of the tenant's budget carries over to the next batch. Deployed, each concurrent
 * worker gets its share of auth0WritesPerSecond (infra/constructs/backfill.ts) and adapts to
 * the shared tenant bucket on its own.
 */
function writePaceOf(perSecond: number, clients: BackfillWorkerClients): WritePace {
  // Wall-clock time, not `clients.clock`: x-ratelimit-reset is a UNIX second.
  if (clients.writePace === 'fixed') {
    return new FixedPace(clients.writeLimiter ?? new RateLimiter(perSecond));
  }
  return new AdaptivePace(perSecond, { ceilingLimiter: clients.writeLimiter });
}
