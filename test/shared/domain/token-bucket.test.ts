import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '#shared/domain/token-bucket.ts';

describe('the token bucket (the API throttle, the backfill limiter, the Auth0 stand-in)', () => {
  it('lets a burst through, then one call per 1/rate seconds', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([0, 0, 0, 0].map(() => bucket.tryTake(0))).toEqual([true, true, true, false]);
    expect(bucket.msUntilToken(0)).toBe(100);
    expect(bucket.tryTake(99)).toBe(false);
    expect(bucket.tryTake(100)).toBe(true);
    expect(bucket.remaining(100)).toBe(0);
    expect(bucket.fullAt(100)).toBe(400);
  });

  it('never lets more than burst + rate × seconds through in any window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 1, maxLength: 300 }),
        (rate, burst, gaps) => {
          const bucket = new TokenBucket(rate, burst, 0);
          let now = 0;
          let taken = 0;
          for (const gap of gaps) {
            now += gap;
            if (bucket.tryTake(now)) taken++;
          }
          expect(taken).toBeLessThanOrEqual(burst + (rate * now) / 1000 + 1e-9);
        },
      ),
    );
  });

  it('a drained bucket gives nothing until it refills', () => {
    const bucket = new TokenBucket(2, 2, 0);
    bucket.drain(1_000);
    expect(bucket.tryTake(1_000)).toBe(false);
    expect(bucket.tryTake(1_500)).toBe(true);
  });
});
