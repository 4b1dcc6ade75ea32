import { buildSyncService, type SyncServiceClients } from '#shared/composition/sync-service.ts';
import type { SyncServiceConfig } from '#shared/config.ts';
import { parseSigningSecrets } from '#shared/domain/signature.ts';
import { createSyncApi } from './app.ts';

/** Builds the Sync API from parsed configuration: what the Lambda, the local stack and the benchmarks run. */
export function buildSyncApi(config: SyncServiceConfig, clients: SyncServiceClients) {
  const { service, logger, secret, stamps } = buildSyncService(config, clients);
  const signing = secret(config.signingSecret, parseSigningSecrets);
  return createSyncApi({
    service,
    signingSecrets: () => signing.get(),
    signatureLedger: stamps,
    stamps,
    requestPolicy: {
      matchKeys: config.matchKeys,
      defaultPhoneCountry: config.defaultPhoneCountry,
    },
    claimNamespace: config.mapping.namespace,
    logger,
    rateLimit: { perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst },
    allowedSources: config.allowedSources,
    ...(clients.clock ? { clock: clients.clock } : {}),
  });
}
