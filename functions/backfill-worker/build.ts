import { Logger } from '@aws-lambda-powertools/logger';
import type { ManagementClient } from 'auth0';
import { Auth0ProfileWriter } from '#shared/adapters/auth0-profile-writer.ts';
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
  /** Paces profile writes; default: this worker's AUTH0_WRITES_PER_SECOND. */
  readonly writeLimiter?: RateLimiter | undefined;
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
  const writes = clients.writeLimiter ?? new RateLimiter(budget.auth0WritesPerSecond);
  // One writer per Management API client: it remembers the rate-limit headers it was sent.
  let writerOf: { client: ManagementClient; sync: BackfillUserSync } | undefined;
  const userSync = async () => {
    const client = await clients.management();
    if (writerOf?.client !== client) {
      writerOf = {
        client,
        sync: new BackfillUserSync({
          service,
          writer: new Auth0ProfileWriter(client, writes),
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
