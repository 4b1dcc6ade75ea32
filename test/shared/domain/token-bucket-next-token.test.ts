import { describe, expect, it } from 'vitest';
import { TokenBucket } from '#shared/domain/token-bucket.ts';

describe('the token bucket: the next token and a new rate', () => {
  it('nextTokenAt is when the next whole token comes (Auth0’s x-ratelimit-reset), not when the bucket is full', () => {
    const bucket = new TokenBucket(2, 4, 0);
    expect(bucket.nextTokenAt(0)).toBe(0);
    for (let i = 0; i < 4; i++) bucket.tryTake(0);
    expect(bucket.nextTokenAt(0)).toBe(500);
    expect(bucket.fullAt(0)).toBe(2_000);
    expect(bucket.nextTokenAt(250)).toBe(500);
    expect(bucket.nextTokenAt(600)).toBe(1_000);
  });

  it('retune keeps what refilled at the old rate and refills at the new one from then on', () => {
    const bucket = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) bucket.tryTake(0);
    bucket.retune(1, 200);
    expect(bucket.perSecond).toBe(1);
    expect(bucket.remaining(200)).toBe(2);
    expect(bucket.remaining(1_199)).toBe(2);
    expect(bucket.remaining(1_200)).toBe(3);
    expect(() => bucket.retune(0, 1_200)).toThrow(RangeError);
  });
});
