import { describe, expect, it } from 'vitest';
import { AdaptiveRate } from '#shared/domain/adaptive-rate.ts';
import { TokenBucket } from '#shared/domain/token-bucket.ts';

/**
 * A backfill in virtual time: `clients` writers, each with AdaptiveRate(ceiling / clients),
 * send `calls` calls to one tenant token bucket (refill `tenantRate`, burst `burst`), each
 * answered after `latencyMs` with Auth0's headers. A 429 is sent again later and, like
 * `remaining: 0`, holds its writer until the reset second.
 */
function backfill(options: {
  ceiling: number;
  tenantRate: number;
  burst: number;
  calls: number;
  latencyMs: number;
  clients?: number;
}) {
  const start = 1_700_000_000_250;
  const tenant = new TokenBucket(options.tenantRate, options.burst, start);
  const clients = Array.from({ length: options.clients ?? 1 }, () => ({
    rate: new AdaptiveRate(options.ceiling / (options.clients ?? 1)),
    nextAt: start,
  }));
  const answers: { at: number; client: number; ok: boolean; remaining: number; reset: number }[] =
    [];
  let toSend = options.calls;
  let done = 0;
  let sent = 0;
  let refused = 0;
  let now = start;
  while (done < options.calls) {
    const ready = clients.reduce(
      (best, c, i) => ((clients[best]?.nextAt ?? 0) <= c.nextAt ? best : i),
      0,
    );
    const sender = clients[ready] as (typeof clients)[number];
    answers.sort((a, b) => a.at - b.at);
    const answer = answers[0];
    if (answer && (toSend === 0 || answer.at <= sender.nextAt)) {
      answers.shift();
      now = answer.at;
      const client = clients[answer.client] as (typeof clients)[number];
      if (answer.ok) {
        done++;
        client.rate.onSuccess(answer.remaining, options.burst);
      } else {
        refused++;
        toSend++;
        client.rate.onRateLimited();
      }
      if (answer.remaining === 0) client.nextAt = Math.max(client.nextAt, answer.reset * 1000);
      continue;
    }
    now = sender.nextAt;
    toSend--;
    sent++;
    sender.rate.onSent();
    sender.nextAt = now + 1000 / sender.rate.rate;
    const at = now + options.latencyMs / 2;
    const ok = tenant.tryTake(at);
    answers.push({
      at: now + options.latencyMs,
      client: ready,
      ok,
      remaining: tenant.remaining(at),
      reset: Math.ceil(tenant.nextTokenAt(at) / 1000),
    });
  }
  const seconds = (now - start) / 1000;
  return {
    refusedShare: refused / sent,
    shareOfTenantRate: options.calls / seconds / options.tenantRate,
  };
}

describe('the adaptive rate (AIMD on Auth0 rate-limit headers)', () => {
  /** A rate that has climbed to its ceiling: answers saying the bucket has room. */
  function atCeiling(ceiling: number): AdaptiveRate {
    const rate = new AdaptiveRate(ceiling);
    for (let i = 0; i < 1_000; i++) {
      rate.onSent();
      rate.onSuccess(15, 20);
    }
    return rate;
  }

  it('starts at half the ceiling, climbs while the bucket has room, and never goes above the ceiling', () => {
    expect(new AdaptiveRate(40).rate).toBe(20);
    expect(atCeiling(40).rate).toBe(40);
  });

  it('halves on a 429 and recovers additively: the ceiling / 10 per second of successes', () => {
    const rate = atCeiling(40);
    rate.onSent();
    rate.onRateLimited();
    expect(rate.rate).toBe(20);
    // One second of successes at about 20/s.
    for (let i = 0; i < 20; i++) {
      rate.onSent();
      rate.onSuccess(10, 20);
    }
    expect(rate.rate).toBeGreaterThan(23.5);
    expect(rate.rate).toBeLessThan(24.5);
  });

  it('a draining bucket cuts before any 429, deeper the emptier it is, once per round trip', () => {
    const rate = atCeiling(40);
    for (let i = 0; i < 4; i++) rate.onSent();
    // Four calls in flight; the first answer says the bucket is down to its low watermark.
    rate.onSuccess(5, 20);
    expect(rate.rate).toBeCloseTo(36);
    // The others were sent before the cut: they say nothing of the new rate.
    rate.onSuccess(4, 20);
    rate.onSuccess(3, 20);
    rate.onSuccess(2, 20);
    expect(rate.rate).toBeCloseTo(36);
    rate.onSent();
    rate.onSuccess(0, 20);
    expect(rate.rate).toBeCloseTo(24);
  });

  it('a low but rising remaining count does not cut; no headers at all do not either', () => {
    const rate = atCeiling(10);
    rate.onSent();
    rate.onRateLimited();
    rate.onSent();
    rate.onSuccess(1, 20);
    rate.onSent();
    rate.onSuccess(undefined, undefined);
    expect(rate.rate).toBeGreaterThan(5);
  });

  it.each([
    { ceiling: 40, tenantRate: 25, burst: 20, latencyMs: 2, clients: 1 },
    { ceiling: 40, tenantRate: 25, burst: 20, latencyMs: 100, clients: 1 },
    { ceiling: 40, tenantRate: 25, burst: 20, latencyMs: 100, clients: 4 },
    { ceiling: 160, tenantRate: 100, burst: 20, latencyMs: 2, clients: 1 },
    { ceiling: 40, tenantRate: 10, burst: 20, latencyMs: 50, clients: 2 },
  ])(
    'configured $ceiling/s against a tenant of $tenantRate/s (burst $burst, $latencyMs ms, $clients writers): ≤ 5% refused, ≥ 90% of the tenant rate',
    (scenario) => {
      const run = backfill({ ...scenario, calls: 2_000 });
      expect(run.refusedShare).toBeLessThanOrEqual(0.05);
      expect(run.shareOfTenantRate).toBeGreaterThanOrEqual(0.9);
    },
  );

  it('the Free plan (2/s, a bucket of 2, where remaining is 0 or 1): few 429s, and the pace does not collapse', () => {
    const run = backfill({
      ceiling: 4,
      tenantRate: 2,
      burst: 2,
      latencyMs: 100,
      clients: 2,
      calls: 1_000,
    });
    expect(run.refusedShare).toBeLessThanOrEqual(0.05);
    expect(run.shareOfTenantRate).toBeGreaterThanOrEqual(0.85);
  });
});
