import { describe, expect, it } from 'vitest';
import { RateLimiter } from '#shared/adapters/rate-limiter.ts';

/** The limiter on a virtual clock: its sleeps advance the clock, so no test waits. */
function virtualLimiter(perSecond: number, burst: number) {
  const clock = { now: 0 };
  const limiter = new RateLimiter(
    perSecond,
    burst,
    () => clock.now,
    async (ms) => {
      clock.now += ms;
    },
  );
  return { clock, limiter };
}

describe('RateLimiter', () => {
  it('setRate changes the pace of the calls that follow', async () => {
    const { clock, limiter } = virtualLimiter(10, 1);
    await limiter.take();
    await limiter.take();
    expect(clock.now).toBe(100);
    limiter.setRate(2);
    expect(limiter.ratePerSecond).toBe(2);
    await limiter.take();
    await limiter.take();
    expect(clock.now).toBe(1_100);
  });

  it('pauseUntil holds every caller back until then', async () => {
    const { clock, limiter } = virtualLimiter(10, 5);
    limiter.pauseUntil(1_000);
    const at: number[] = [];
    await Promise.all([1, 2, 3].map(() => limiter.take().then(() => at.push(clock.now))));
    expect(Math.min(...at)).toBeGreaterThanOrEqual(1_000);
  });
});
