import { Logger } from '@aws-lambda-powertools/logger';
import { buildBackfillWorker } from '#functions/backfill-worker/build.ts';
import {
  handledUsers,
  type LocalBackfillRun,
  runBackfill,
  type ShippedWorker,
} from '#local/backfill/run.ts';
import { seedSyncedTenant, verifySeededTenant } from '#local/backfill/seeded-tenant.ts';
import { type LocalBackfillStack, startLocalBackfillStack } from '#local/backfill/stack.ts';
import type { BackfillCounts } from '#shared/domain/backfill.ts';
import type { RateLimitSpec } from '#stand-ins/auth0-management-api/rate-limits.ts';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { startServicesThread } from '#stand-ins/services-thread.ts';
import { MemoryQueue } from '#stand-ins/sqs-memory-queue.ts';

/** What one backfill against a tenant slower than the configured rate came to. */
export interface SlowTenantRun {
  readonly run: LocalBackfillRun;
  /** PATCH /users sent, and how many of them were answered 429. */
  readonly writesSent: number;
  readonly writesRefused: number;
  /** Users neither handled by the run nor matching the CRM afterwards (must be 0). */
  readonly usersLost: number;
  /** Users written per second, over the tenant's Write Users refill rate. */
  readonly shareOfTenantRate: number;
}

const isUserPatch = (r: { method: string; path: string }) =>
  r.method === 'PATCH' && r.path.startsWith('/api/v2/users/');

/**
 * Seeds `users` users whose CRM data all changed (one write each), sets the tenant's Write
 * Users bucket to `tenant`, and runs the backfill through the shipped worker
 * (buildBackfillWorker, as the Lambda builds it) configured for `configuredPerSecond` writes:
 * more than the tenant grants. `writePace` picks the adaptive pace or the old fixed one.
 */
export async function runAgainstSlowTenant(options: {
  readonly api: ManagementApi;
  readonly stack: LocalBackfillStack;
  readonly users: number;
  readonly tenant: Required<RateLimitSpec>;
  readonly configuredPerSecond: number;
  readonly writePace: 'adaptive' | 'fixed';
  /** Event-source pollers handing batches to the workers. */
  readonly workers: number;
  /**
   * Worker Lambdas (default 1): as deployed, each gets configuredPerSecond / lambdas and
   * adapts to the shared tenant bucket on its own; batches go to them in turn.
   */
  readonly lambdas?: number;
  readonly logger?: Logger;
}): Promise<SlowTenantRun> {
  const { api, stack } = options;
  seedSyncedTenant(api, {
    users: options.users,
    changedShare: 1,
    namespace: stack.namespace,
    timeZone: stack.config.timeZone,
  });
  const location = await stack.exportTenant(10);
  const patchesBefore = api.requests.filter(isUserPatch).length;
  const writesBefore = api.userWrites;
  const listeners = new Set<(counts: BackfillCounts) => void>();
  const lambdas = Math.max(1, options.lambdas ?? 1);
  const handlers = Array.from({ length: lambdas }, () => {
    const client = api.client();
    return buildBackfillWorker(
      stack.config,
      { crmRatePerSecond: 100_000, auth0WritesPerSecond: options.configuredPerSecond / lambdas },
      {
        dynamodb: stack.dynamodb,
        management: async () => client,
        writePace: options.writePace,
        ...(options.logger ? { logger: options.logger } : {}),
        onBatch: ({ counts }) => {
          for (const listener of listeners) listener(counts);
        },
      },
    );
  });
  let turn = 0;
  const worker: ShippedWorker = {
    handler: (event) => {
      turn = (turn + 1) % lambdas;
      return (handlers[turn] as (typeof handlers)[number])(event);
    },
    onBatch: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  // Only now is the tenant slow: the export job's calls do not count against Write Users anyway.
  api.setRateLimit({ writeUsers: options.tenant });
  try {
    const run = await runBackfill({
      users: stack.exporter.users(location),
      worker,
      stamps: stack.stamps,
      mapping: stack.config.mapping,
      requestPolicy: stack.requestPolicy,
      namespace: stack.namespace,
      queue: new MemoryQueue({ maxReceives: 1_000 }),
      workers: options.workers,
      visibilityTimeoutMs: 200,
    });
    const writesSent = api.requests.filter(isUserPatch).length - patchesBefore;
    const written = api.userWrites - writesBefore;
    const verified = verifySeededTenant(api, stack.namespace);
    return {
      run,
      writesSent,
      writesRefused: writesSent - written,
      usersLost: Math.max(options.users - handledUsers(run), verified.mismatched),
      shareOfTenantRate: written / run.seconds / options.tenant.perSecond,
    };
  } finally {
    api.setRateLimit(undefined);
  }
}

const CONFIGURED = 40;
const TENANT = { perSecond: 25, burst: 20 };
const WORKERS = 16;

const row = (label: string, value: string) => `  ${label.padEnd(40)} ${value}`;
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

/**
 * The scenario: the backfill configured for 40 writes/s against a tenant whose Write
 * Users bucket refills 25/s (burst 20), with the adaptive pace and, as the baseline in the same
 * run, the old fixed pace. Prints users/s, the share of the tenant's rate, the share of writes
 * answered 429 and the users lost; asserts nothing.
 */
export async function benchSlowTenant(users: number): Promise<string[]> {
  const services = await startServicesThread();
  const dynamodb = services.client();
  const logger = new Logger({ serviceName: 'bench-slow-tenant', logLevel: 'ERROR' });
  const lines = [
    `Slow tenant: ${users.toLocaleString('en-US')} users, each needing a write; configured ${CONFIGURED} writes/s, the tenant's Write Users bucket ${TENANT.perSecond}/s (burst ${TENANT.burst}), ${WORKERS} workers`,
  ];
  try {
    const variants = [
      { writePace: 'adaptive', lambdas: 1, label: 'adaptive pace' },
      {
        writePace: 'adaptive',
        lambdas: 4,
        label: `adaptive, 4 Lambdas at ${CONFIGURED / 4}/s each`,
      },
      { writePace: 'fixed', lambdas: 1, label: 'fixed pace (the baseline)' },
    ] as const;
    for (const { writePace, lambdas, label } of variants) {
      const api = await startManagementApi();
      const stack = await startLocalBackfillStack({
        api,
        crm: services.crm,
        dynamodb,
        crmRatePerSecond: 100_000,
        auth0WritesPerSecond: CONFIGURED,
        logger,
      });
      try {
        const result = await runAgainstSlowTenant({
          api,
          stack,
          users,
          tenant: TENANT,
          configuredPerSecond: CONFIGURED,
          writePace,
          workers: WORKERS,
          lambdas,
          logger,
        });
        lines.push(
          row(
            label,
            `${result.run.usersPerSecond.toFixed(1)} users/s (${result.run.seconds.toFixed(1)} s)`,
          ),
          row('  share of the tenant rate (target ≥ 90%)', percent(result.shareOfTenantRate)),
          row(
            '  writes answered 429 (target ≤ 5%)',
            `${percent(result.writesRefused / Math.max(1, result.writesSent))} (${result.writesRefused} of ${result.writesSent})`,
          ),
          row('  users lost (must be 0)', String(result.usersLost)),
        );
      } finally {
        await stack.close();
        await api.close();
      }
    }
    return lines;
  } finally {
    dynamodb.destroy();
    await services.close();
  }
}
