import { buildSyncService, type SyncServiceClients } from '#shared/composition/sync-service.ts';
import type { SyncServiceConfig } from '#shared/config.ts';
import { parseSigningSecrets } from '#shared/domain/signature.ts';
import { createSyncApi } from './app.ts';

export interface SyncApiOptions {
  /**
   * Start now, all at once, what the first login would otherwise do one after the other: read
   * the secrets (the signing secret before the signature check, the CRM key before the CRM
   * call, the match-key hash key before the stamp's write) and open the stamp table's connection (DynamoDbStampStore.warmUp). The Lambda's init,
   * where the three overlap each other's round trips and TLS handshakes: over loopback HTTPS the
   * first login answers about 30 ms sooner (`npm run bench -- --only=cold`). A secret read that
   * fails here is tried again by the request that needs it, which reports it.
   */
  readonly warmUp?: boolean;
}

/** Builds the Sync API from parsed configuration: what the Lambda, the local stack and the benchmarks run. */
export function buildSyncApi(
  config: SyncServiceConfig,
  clients: SyncServiceClients,
  options: SyncApiOptions = {},
) {
  const { service, logger, secret, stamps, warmCrm, matchKeySecret } = buildSyncService(
    config,
    clients,
  );
  const signing = secret(config.signingSecret, parseSigningSecrets);
  if (options.warmUp) {
    for (const value of [signing, matchKeySecret]) value?.get().catch(() => undefined);
    warmCrm();
    void stamps.warmUp();
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
