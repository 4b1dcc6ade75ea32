import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CachedValue } from '#shared/adapters/cached-value.ts';
import { CrmCircuitBreaker } from '#shared/adapters/crm-circuit-breaker.ts';
import { DynamoDbStampStore } from '#shared/adapters/dynamodb-stamps.ts';
import { HttpCrm } from '#shared/adapters/http-crm.ts';
import { secretReader } from '#shared/adapters/secrets-manager.ts';
import type { SecretSetting, SyncServiceConfig } from '#shared/config.ts';
import { CrmFailure, type CrmLookup } from '#shared/domain/ports.ts';
import { parseSigningSecrets } from '#shared/domain/signature.ts';
import { SyncService } from '#shared/domain/sync.ts';
import { createSyncApi } from './app.ts';
import { logAbsorbedFault, logCircuitChange } from './operational-logs.ts';

export interface SyncApiClients {
  readonly dynamodb: DynamoDBClient;
  /** Only needed when a secret is configured by Secrets Manager id. */
  readonly secretsManager?: SecretsManagerClient;
  readonly logger?: Logger;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Paces CRM calls (the backfill); the login path is never held back. A CRM's Retry-After
   * pauses it. The backfill has no circuit breaker: SQS already brings a failed user back
   * minutes later, while a login cannot wait.
   */
  readonly crmLimiter?: CrmPacer;
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
    maxResponseBytes: config.crmMaxResponseBytes,
    onUnauthorized: () => crmApiKey.invalidate(),
    ...(clients.clock ? { clock: clients.clock } : {}),
  });
  const crm: CrmLookup = clients.crmLimiter
    ? paced(httpCrm, clients.crmLimiter, clients.clock ?? Date.now)
    : new CrmCircuitBreaker(httpCrm, config.crmBreaker, logCircuitChange(logger), clients.clock);
  const stamps = new DynamoDbStampStore({
    client: clients.dynamodb,
    tableName: config.tableName,
    retentionDays: config.stampRetentionDays,
  });
  const service = new SyncService({
    crm,
    stamps,
    policy: {
      mapping: config.mapping,
      timeZone: config.timeZone,
      notFoundFreshSeconds: config.notFoundFreshSeconds,
      staleRetrySeconds: config.staleRetrySeconds,
      // How the lease, the CRM timeout and the waiters' budget fit: shared/domain/time-budget.ts.
      leaseMs: config.timeBudget.leaseMs,
      answerWithinMs: config.timeBudget.answerWithinMs,
    },
    onFault: logAbsorbedFault(logger),
    ...(clients.clock ? { clock: clients.clock } : {}),
    ...(clients.sleep ? { sleep: clients.sleep } : {}),
  });
  return { service, stamps, logger, secret, crm };
}

/** Builds the Sync API from parsed configuration: the one composition root, Lambda and local. */
export function buildSyncApi(config: SyncServiceConfig, clients: SyncApiClients) {
  const { service, logger, secret, stamps } = buildSyncService(config, clients);
  const signing = secret(config.signingSecret, parseSigningSecrets);
  return createSyncApi({
    service,
    signingSecrets: () => signing.get(),
    signatureLedger: stamps,
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

export interface CrmPacer {
  take(): Promise<void>;
  pauseUntil?(epochMs: number): void;
}

/** A Retry-After longer than this pauses the backfill no longer: its worker times out at 2 min. */
const BACKFILL_MAX_CRM_PAUSE_MS = 60_000;

/** Holds every CRM call to a shared rate (the backfill's CRM budget), and to its Retry-After. */
function paced(crm: CrmLookup, limiter: CrmPacer, clock: () => number): CrmLookup {
  return {
    find: async (key) => {
      await limiter.take();
      try {
        return await crm.find(key);
      } catch (error) {
        const wait = error instanceof CrmFailure ? error.retryAfterMs : undefined;
        if (wait !== undefined) {
          limiter.pauseUntil?.(clock() + Math.min(wait, BACKFILL_MAX_CRM_PAUSE_MS));
        }
        throw error;
      }
    },
  };
}
