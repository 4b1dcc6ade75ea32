import { describe, expect, it } from 'vitest';
import { verifySeededTenant } from '#local/backfill/seeded-tenant.ts';
import { useBackfillEnvironment } from '#test/support/backfill-env.ts';
import { runAgainstSlowTenant } from '../../bench/slow-tenant.ts';

/**
 * A backfill configured for more writes than the tenant grants (the configured rate is a
 * ceiling, not a promise): the shipped worker (buildBackfillWorker) slows to the tenant's
 * Write Users bucket instead of answering most writes with a 429, and loses nobody.
 */

const env = useBackfillEnvironment({ servicesThread: true });
// The tenant refills 50 writes a second (burst 20); the backfill is configured for 80.
const tenant = { perSecond: 50, burst: 20 };

/** 200 users, each needing a write, through the shipped worker at 80/s against the tenant. */
const runAgainstTenant = (lambdas?: number) =>
  runAgainstSlowTenant({
    api: env.api,
    stack: env.stack,
    users: 200,
    tenant,
    configuredPerSecond: 80,
    writePace: 'adaptive',
    workers: 16,
    ...(lambdas === undefined ? {} : { lambdas }),
  });

describe('a tenant slower than the configured write rate', () => {
  it('one worker: at most 5% of writes are answered 429, and every user is written', async () => {
    const result = await runAgainstTenant();

    expect(result.usersLost).toBe(0);
    expect(result.run.counts).toMatchObject({ checked: 200, changed: 200, failed: 0 });
    expect(env.api.userWrites).toBe(200);
    expect(result.writesRefused / result.writesSent).toBeLessThanOrEqual(0.05);
    expect(verifySeededTenant(env.api, env.stack.namespace)).toEqual({
      matching: 200,
      mismatched: 0,
    });
  });

  it('as deployed, 4 Lambdas at 20/s each adapting on their own: at most 5% answered 429, nobody lost', async () => {
    const result = await runAgainstTenant(4);

    expect(result.usersLost).toBe(0);
    expect(env.api.userWrites).toBe(200);
    expect(result.writesRefused / result.writesSent).toBeLessThanOrEqual(0.05);
  });
});
