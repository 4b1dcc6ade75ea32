import { describe, expect, it } from 'vitest';
import { AdaptiveRate } from '#shared/domain/adaptive-rate.ts';
import { TokenBucket } from '#shared/domain/token-bucket.ts';

/**
 * A backfill in virtual time: `clients` writers, each with AdaptiveRate(ceiling / clients),
 * send `calls` calls to one tenant token bucket (refill `tenantRate`, burst `burst`), each
 * answered after `latencyMs` with Auth0's headers. A 429 is sent again later and, like
 * `remaining: 0`, holds its writer until the reset second. With `lostEvery`, every n-th call
 * ends in a 5xx: no verdict to report, and it is sent again later.
 */
function backfill(options: {
  ceiling: number;
  tenantRate: number;
  burst: number;
  calls: number;
  latencyMs: number;
  clients?: number;
  lostEvery?: number;
}) {
  const start = 1_700_000_000_250;
  const tenant = new TokenBucket(options.tenantRate, options.burst, start);
  const clients = Array.from({ length: options.clients ?? 1 }, () => ({
    rate: new AdaptiveRate(options.ceiling / (options.clients ?? 1)),
    nextAt: start,
  }));
  const answers: {
    at: number;
    client: number;
    call: number;
    lost: boolean;
    ok: boolean;
    remaining: number;
    reset: number;
  }[] = [];
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
      if (answer.lost) {
        toSend++;
      } else if (answer.ok) {
        done++;
        client.rate.onSuccess(answer.remaining, options.burst, answer.call);
      } else {
        refused++;
        toSend++;
        client.rate.onRateLimited(answer.call);
      }
      if (answer.remaining === 0) client.nextAt = Math.max(client.nextAt, answer.reset * 1000);
      continue;
    }
    now = sender.nextAt;
    toSend--;
    sent++;
    const call = sender.rate.onSent();
    sender.nextAt = now + 1000 / sender.rate.rate;
    const at = now + options.latencyMs / 2;
    const ok = tenant.tryTake(at);
    answers.push({
      at: now + options.latencyMs,
      client: ready,
      call,
      lost: options.lostEvery !== undefined && sent % options.lostEvery === 0,
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
    for (let i = 0; i < 1_000; i++) rate.onSuccess(15, 20, rate.onSent());
    return rate;
  }

  it('starts at half the ceiling, climbs while the bucket has room, and never goes above the ceiling', () => {
    expect(new AdaptiveRate(40).rate).toBe(20);
    expect(atCeiling(40).rate).toBe(40);
  });

  it('halves on a 429 and recovers additively: the ceiling / 10 per second of successes', () => {
    const rate = atCeiling(40);
    rate.onRateLimited(rate.onSent());
    expect(rate.rate).toBe(20);
    // One second of successes at about 20/s.
    for (let i = 0; i < 20; i++) rate.onSuccess(10, 20, rate.onSent());
    expect(rate.rate).toBeGreaterThan(23.5);
    expect(rate.rate).toBeLessThan(24.5);
  });

  it('a draining bucket cuts before any 429, deeper the emptier it is, once per round trip', () => {
    const rate = atCeiling(40);
    const [first = 0, ...others] = Array.from({ length: 4 }, () => rate.onSent());
    // Four calls in flight; the first answer says the bucket is down to its low watermark.
    rate.onSuccess(5, 20, first);
    expect(rate.rate).toBeCloseTo(36);
    // The others were sent before the cut: they say nothing of the new rate.
    for (const [i, call] of others.entries()) rate.onSuccess(4 - i, 20, call);
    expect(rate.rate).toBeCloseTo(36);
    rate.onSuccess(0, 20, rate.onSent());
    expect(rate.rate).toBeCloseTo(24);
  });

  it('a low but rising remaining count does not cut; no headers at all do not either', () => {
    const rate = atCeiling(10);
    rate.onRateLimited(rate.onSent());
    rate.onSuccess(1, 20, rate.onSent());
    rate.onSuccess(undefined, undefined, rate.onSent());
    expect(rate.rate).toBeGreaterThan(5);
  });

  it('calls that never get a verdict (timeouts, 5xx) do not stop later 429s and draining answers from cutting', () => {
    const rate = atCeiling(40);
    // A long stretch of writes lost to 5xx and timeouts: sent, never answered.
    for (let i = 0; i < 50; i++) rate.onSent();
    rate.onRateLimited(rate.onSent());
    expect(rate.rate).toBe(20);
    // The next call, sent after that cut, is refused too: the rate halves again at once.
    rate.onRateLimited(rate.onSent());
    expect(rate.rate).toBe(10);
    for (let i = 0; i < 50; i++) rate.onSent();
    rate.onSuccess(0, 20, rate.onSent());
    expect(rate.rate).toBeCloseTo(10 * (2 / 3));
  });

  it('an answer to a call sent before a cut does not cut again, even when it comes after newer answers', () => {
    const rate = atCeiling(40);
    const old = rate.onSent();
    rate.onRateLimited(rate.onSent());
    expect(rate.rate).toBe(20);
    rate.onRateLimited(old);
    expect(rate.rate).toBe(20);
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

  it('a long backfill with one write in ten lost to a 5xx keeps reacting to the bucket: under 0.5% refused, as without the losses', () => {
    const run = backfill({
      ceiling: 40,
      tenantRate: 25,
      burst: 20,
      latencyMs: 100,
      clients: 4,
      calls: 20_000,
      lostEvery: 10,
    });
    expect(run.refusedShare).toBeLessThan(0.005);
    // A tenth of the tenant's rate goes to the lost writes.
    expect(run.shareOfTenantRate).toBeGreaterThanOrEqual(0.85);
  });

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
