import { buildSyncService, type SyncServiceClients } from '#shared/composition/sync-service.ts';
import type { SyncServiceConfig } from '#shared/config.ts';
import { parseSigningSecrets } from '#shared/domain/signature.ts';
import { createSyncApi } from './app.ts';

export interface SyncApiOptions {
  /**
   * Start reading both secrets now, together, rather than one after the other inside the first
   * request (the signing secret before the signature check, the CRM key before the CRM call):
   * the Lambda's init, where the reads overlap the rest of the start. A read that fails here is
   * tried again by the request that needs it, which reports it.
   */
  readonly readSecretsNow?: boolean;
}

/** Builds the Sync API from parsed configuration: what the Lambda, the local stack and the benchmarks run. */
export function buildSyncApi(
  config: SyncServiceConfig,
  clients: SyncServiceClients,
  options: SyncApiOptions = {},
) {
  const { service, logger, secret, stamps, crmApiKey } = buildSyncService(config, clients);
  const signing = secret(config.signingSecret, parseSigningSecrets);
  if (options.readSecretsNow) {
    for (const value of [signing, crmApiKey]) value.get().catch(() => undefined);
  }
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
