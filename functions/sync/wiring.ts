import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CachedValue } from '#shared/adapters/cached-value.ts';
import { DynamoDbStampStore } from '#shared/adapters/dynamodb-stamps.ts';
import { HttpCrm } from '#shared/adapters/http-crm.ts';
import { secretReader } from '#shared/adapters/secrets-manager.ts';
import type { SecretSetting, SyncServiceConfig } from '#shared/config.ts';
import type { CrmLookup } from '#shared/domain/ports.ts';
import { parseSigningSecrets } from '#shared/domain/signature.ts';
import { SyncService } from '#shared/domain/sync.ts';
import { createSyncApi, logAbsorbedFault } from './app.ts';

export interface SyncApiClients {
  readonly dynamodb: DynamoDBClient;
  /** Only needed when a secret is configured by Secrets Manager id. */
  readonly secretsManager?: SecretsManagerClient;
  readonly logger?: Logger;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Paces CRM calls (the backfill); the login path is never held back. */
  readonly crmLimiter?: { take(): Promise<void> };
}

/** The sync use case with its adapters, as the API and the backfill worker both use it. */
export function buildSyncService(config: SyncServiceConfig, clients: SyncApiClients) {
  const logger = clients.logger ?? new Logger({ serviceName: 'crm-sync' });
  let secretsManager = clients.secretsManager;
  const secretsClient = () => {
    secretsManager ??= new SecretsManagerClient({});
    return secretsManager;
  };
  // Parsed once per load, not per request: the cached value is what the hot path uses.
  const secret = <T = string>(
    setting: SecretSetting,
    parse: (raw: string) => T = (raw) => raw as T,
  ): CachedValue<T> => {
    const read =
      setting.source === 'inline'
        ? async () => setting.value
        : secretReader(secretsClient(), setting.secretId);
    return new CachedValue(async () => parse(await read()), {
      maxAgeMs: config.secretsMaxAgeSeconds * 1000,
      ...(clients.clock ? { clock: clients.clock } : {}),
      onStaleServed: (error) => logAbsorbedFault(logger)({ operation: 'secret_read', error }),
    });
  };

  const crmApiKey = secret(config.crmApiKey);
  const httpCrm = new HttpCrm({
    url: config.crmUrl,
    apiKey: () => crmApiKey.get(),
    timeoutMs: config.crmTimeoutMs,
    onUnauthorized: () => crmApiKey.invalidate(),
  });
  const stamps = new DynamoDbStampStore({
    client: clients.dynamodb,
    tableName: config.tableName,
    retentionDays: config.stampRetentionDays,
  });
  const service = new SyncService({
    crm: clients.crmLimiter ? rateLimited(httpCrm, clients.crmLimiter) : httpCrm,
    stamps,
    policy: {
      mapping: config.mapping,
      timeZone: config.timeZone,
      notFoundFreshSeconds: config.notFoundFreshSeconds,
      staleRetrySeconds: config.staleRetrySeconds,
      // The lease outlives the CRM's hard timeout, so a live lookup is never doubled.
      leaseMs: config.crmTimeoutMs + 1_000,
      // Waiters answer within the Action's default 3 s budget.
      leaseWaitMs: Math.min(config.crmTimeoutMs + 200, 2_700),
    },
    onFault: logAbsorbedFault(logger),
    ...(clients.clock ? { clock: clients.clock } : {}),
    ...(clients.sleep ? { sleep: clients.sleep } : {}),
  });
  return { service, stamps, logger, secret };
}

/** Builds the Sync API from parsed configuration: the one composition root, Lambda and local. */
export function buildSyncApi(config: SyncServiceConfig, clients: SyncApiClients) {
  const { service, logger, secret } = buildSyncService(config, clients);
  const signing = secret(config.signingSecret, parseSigningSecrets);
  return createSyncApi({
    service,
    signingSecrets: () => signing.get(),
    requestPolicy: {
      matchKeys: config.matchKeys,
      defaultPhoneCountry: config.defaultPhoneCountry,
    },
    claimNamespace: config.mapping.namespace,
    logger,
    rateLimit: { perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst },
    ...(clients.clock ? { clock: clients.clock } : {}),
  });
}

/** Holds every CRM call to a shared rate (the backfill's CRM budget). */
function rateLimited(crm: CrmLookup, limiter: { take(): Promise<void> }): CrmLookup {
  return {
    find: async (key) => {
      await limiter.take();
      return crm.find(key);
    },
  };
}
