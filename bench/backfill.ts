import { Logger } from '@aws-lambda-powertools/logger';
import { handledUsers } from '#local/backfill/run.ts';
import { seedSyncedTenant, verifySeededTenant } from '#local/backfill/seeded-tenant.ts';
import { startLocalBackfillStack } from '#local/backfill/stack.ts';
import { startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { startServicesThread } from '#stand-ins/services-thread.ts';

/** The simulated budgets: CRM calls and Auth0 user writes per second, and the changed share. */
const CRM_RATE = 200;
const AUTH0_WRITES = 16;
const CHANGED = 0.05;
const WORKERS = 16;

const count = (n: number) => n.toLocaleString('en-US');
const row = (label: string, value: string) => `  ${label.padEnd(40)} ${value}`;

/**
 * The backfill's throughput against what its budgets allow: every user costs one CRM call
 * (rate R) and the changed share c costs one Auth0 write each (limit L), so no run can check
 * more than min(R, L / c) users a second. The Management API stand-in enforces L itself (429s
 * with x-ratelimit-* headers); dynalite and the demo CRM run on a worker thread, as they would
 * be other machines in AWS. Prints figures; asserts nothing.
 */
export async function benchBackfill(users: number): Promise<string[]> {
  const services = await startServicesThread();
  const dynamodb = services.client();
  const api = await startManagementApi();
  const stack = await startLocalBackfillStack({
    api,
    crm: services.crm,
    dynamodb,
    crmRatePerSecond: CRM_RATE,
    auth0WritesPerSecond: AUTH0_WRITES,
    logger: new Logger({ serviceName: 'bench-backfill', logLevel: 'ERROR' }),
  });
  try {
    const seeded = seedSyncedTenant(api, {
      users,
      changedShare: CHANGED,
      namespace: stack.namespace,
      timeZone: stack.config.timeZone,
    });
    api.setRateLimit(AUTH0_WRITES);
    const location = await stack.exportTenant();
    const run = await stack.run({ location, workers: WORKERS });

    const bound = Math.min(CRM_RATE, AUTH0_WRITES / CHANGED);
    const { counts } = run;
    const handled = handledUsers(run);
    const verified = verifySeededTenant(api, stack.namespace);
    const patches = api.requests.filter(
      (r) => r.method === 'PATCH' && r.path.startsWith('/api/v2/users/'),
    ).length;
    const perUser = run.seconds / Math.max(1, counts.checked);
    // Measured when the run has 100,000 users; otherwise the same per-user time, scaled.
    const hundredK =
      users === 100_000
        ? []
        : [
            row(
              'time for 100,000 users',
              `${(perUser * 100_000).toFixed(0)} s (${((perUser * 100_000) / 60).toFixed(1)} min), extrapolated; --backfill-users=100000 measures it`,
            ),
          ];
    return [
      `Backfill: ${count(users)} users synced yesterday, ${count(seeded.changed)} (${(CHANGED * 100).toFixed(0)}%) with changed CRM data; CRM R = ${CRM_RATE}/s, Auth0 writes L = ${AUTH0_WRITES}/s (the stand-in's limit and the writer's), ${WORKERS} workers`,
      row('users checked per second', `${run.usersPerSecond.toFixed(1)} users/s`),
      row('bound min(R, L / c)', `${bound.toFixed(1)} users/s`),
      row('ratio (target ≥ 90%)', `${((run.usersPerSecond / bound) * 100).toFixed(1)}%`),
      row(
        'users lost',
        `${users - handled} (${count(counts.checked)} checked: ${count(counts.changed)} changed, ${count(counts.unchanged)} unchanged, ${count(counts.notFound)} not found, ${count(counts.failed)} failed; profiles matching the CRM ${count(verified.matching)}/${count(users)})`,
      ),
      row(
        'CRM calls, Auth0 writes, 429s, retries',
        `${count(stack.crmCalls())}, ${count(api.userWrites)}, ${count(patches - api.userWrites)}, ${count(run.retries)}`,
      ),
      row(
        `time for ${count(users)} users`,
        `${run.seconds.toFixed(1)} s (${(run.seconds / 60).toFixed(1)} min)`,
      ),
      ...hundredK,
    ];
  } finally {
    await stack.close();
    await api.close();
    dynamodb.destroy();
    await services.close();
  }
}
