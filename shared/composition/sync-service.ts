import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CrmCircuitBreaker } from '../adapters/crm-circuit-breaker.ts';
import { DynamoDbStampStore } from '../adapters/dynamodb-stamps.ts';
import type { SyncServiceConfig } from '../config.ts';
import { type MatchKeyHasher, matchKeyHash } from '../domain/match-key-hash.ts';
import { CrmFailure, type CrmLookup } from '../domain/ports.ts';
import { SyncService } from '../domain/sync.ts';
import { buildCrmAdapter } from './crm-adapter.ts';
import { logAbsorbedFault, logCircuitChange } from './operational-logs.ts';
import { secretSource } from './secrets.ts';

export interface SyncServiceClients {
  readonly dynamodb: DynamoDBClient;
  /** Only needed when a secret is configured by Secrets Manager id. */
  readonly secretsManager?: SecretsManagerClient | undefined;
  readonly logger?: Logger | undefined;
  readonly clock?: (() => number) | undefined;
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
  /**
   * Paces CRM calls (the backfill); the login path is never held back. A CRM's Retry-After
   * pauses it. The backfill has no circuit breaker: SQS already brings a failed user back
   * minutes later, while a login cannot wait.
   */
  readonly crmLimiter?: CrmPacer | undefined;
}

export interface CrmPacer {
  take(): Promise<void>;
  pauseUntil?(epochMs: number): void;
}

/**
 * The sync use case with its adapters: the one composition the API, the backfill worker, the
 * local stack and the benchmarks share (functions/<name>/build.ts add what each needs).
 */
export function buildSyncService(config: SyncServiceConfig, clients: SyncServiceClients) {
  const logger = clients.logger ?? new Logger({ serviceName: 'crm-sync' });
  const secret = secretSource({
    maxAgeSeconds: config.secretsMaxAgeSeconds,
    secretsManager: clients.secretsManager,
    clock: clients.clock,
    onFault: logAbsorbedFault(logger),
  });
  const adapter = buildCrmAdapter(config, secret, clients.clock);
  const crm: CrmLookup = clients.crmLimiter
    ? pacedCrm(adapter.crm, clients.crmLimiter, clients.clock ?? Date.now)
    : new CrmCircuitBreaker(
        adapter.crm,
        config.crmBreaker,
        logCircuitChange(logger),
        clients.clock,
      );
  // Read once the first stamp is written, then cached like the other secrets.
  const matchKeySecret = config.matchKeyHashSecret ? secret(config.matchKeyHashSecret) : undefined;
  const matchKeyHasher: MatchKeyHasher | undefined =
    matchKeySecret && (async (key) => matchKeyHash(await matchKeySecret.get(), key));
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
    matchKeyHash: matchKeyHasher,
    onFault: logAbsorbedFault(logger),
    ...(clients.clock ? { clock: clients.clock } : {}),
    ...(clients.sleep ? { sleep: clients.sleep } : {}),
  });
  return { service, stamps, logger, secret, crm, warmCrm: adapter.warm, matchKeySecret };
}

/** A Retry-After longer than this pauses the backfill no longer: its worker times out at 2 min. */
const BACKFILL_MAX_CRM_PAUSE_MS = 60_000;

/** Holds every CRM call to a shared rate (the backfill's CRM budget), and to its Retry-After. */
function pacedCrm(crm: CrmLookup, limiter: CrmPacer, clock: () => number): CrmLookup {
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
