import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdaptivePace } from '#shared/adapters/adaptive-pace.ts';
import { MissingScopeError } from '#shared/adapters/auth0-errors.ts';
import { Auth0ProfileWriter } from '#shared/adapters/auth0-profile-writer.ts';
import { RetryLater } from '#shared/domain/backfill.ts';
import type { CrmAppMetadata } from '#shared/domain/sync-response.ts';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';

/**
 * The backfill's profile writer against the Management API stand-in through the real SDK: what
 * each answer becomes, and how the answers' rate-limit headers hold the next write back. The
 * pace runs on a virtual clock (its sleeps advance it), so a pause costs no real time.
 */

let api: ManagementApi;
let now: number;
let writer: Auth0ProfileWriter;
let pace: AdaptivePace;

const metadata: CrmAppMetadata = {
  id: 'crm-1',
  synced_at: '2026-12-01T00:00:00.000Z',
  fresh_until: '2026-12-02T00:00:00.000Z',
  namespace: 'https://crm.example.com/',
  fields: { name: 'Customer 1' },
};
const isPatch = (req: { method: string; path: string }) => req.method === 'PATCH';
const patches = () => api.requests.filter(isPatch);

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the write to fail');
}

beforeEach(async () => {
  api = await startManagementApi();
  api.seedUsers(3);
  now = Date.now();
  const clock = () => now;
  pace = new AdaptivePace(40, {
    clock,
    sleep: async (ms) => {
      now += ms;
    },
  });
  writer = new Auth0ProfileWriter(api.client(), pace, clock);
});

afterEach(async () => {
  await api.close();
});

describe('Auth0ProfileWriter', () => {
  it('writes app_metadata.crm and keeps the other app_metadata keys', async () => {
    const user = api.users.get('sms|user-0');
    if (user) user.app_metadata = { plan: 'gold' };
    await writer.writeCrmMetadata('sms|user-0', metadata);
    expect(api.users.get('sms|user-0')?.app_metadata).toEqual({ plan: 'gold', crm: metadata });
  });

  it('never sends app_metadata: {} (Auth0 would delete all app_metadata)', async () => {
    const error = await failure(
      writer.writeCrmMetadata('sms|user-0', undefined as unknown as CrmAppMetadata),
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(String(error)).toMatch(/app_metadata: \{\} would delete/);
    expect(patches()).toHaveLength(0);
  });

  it('a 429 with only x-ratelimit-* headers (no Retry-After) becomes RetryLater, and the next write waits for the reset second', async () => {
    const resetSecond = Math.floor(now / 1000) + 3;
    api.failNext(
      1,
      {
        status: 429,
        headers: {
          'x-ratelimit-limit': '20',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(resetSecond),
        },
        body: {
          statusCode: 429,
          error: 'Too Many Requests',
          message: 'Global limit has been reached',
          errorCode: 'too_many_requests',
        },
      },
      isPatch,
    );
    const before = pace.ratePerSecond;
    const error = await failure(writer.writeCrmMetadata('sms|user-0', metadata));
    expect(error).toBeInstanceOf(RetryLater);
    expect(error).toMatchObject({ reason: 'auth0_rate_limited' });
    expect((error as RetryLater).afterSeconds).toBeGreaterThanOrEqual(2);
    expect(pace.ratePerSecond).toBe(before / 2);

    await writer.writeCrmMetadata('sms|user-0', metadata);
    expect(now).toBeGreaterThanOrEqual(resetSecond * 1000);
    expect(api.users.get('sms|user-0')?.app_metadata.crm).toEqual(metadata);
  });

  it('a success saying nothing remains holds the next write until the reset second', async () => {
    const resetSecond = Math.floor(now / 1000) + 2;
    api.failNext(
      1,
      {
        status: 200,
        headers: {
          'x-ratelimit-limit': '20',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(resetSecond),
        },
        body: { user_id: 'sms|user-0', app_metadata: {} },
      },
      isPatch,
    );
    const before = pace.ratePerSecond;
    await writer.writeCrmMetadata('sms|user-0', metadata);
    expect(pace.ratePerSecond).toBeLessThan(before);
    await writer.writeCrmMetadata('sms|user-1', metadata);
    expect(now).toBeGreaterThanOrEqual(resetSecond * 1000);
  });

  it('after writes that end in a 503, a 500 or a 401 (no verdict on the bucket), each 429 still halves the pace', async () => {
    const tooMany = { status: 429, headers: { 'retry-after': '1' } };
    api.failNext(1, { status: 503 }, isPatch);
    api.failNext(1, { status: 500 }, isPatch);
    api.failNext(1, { status: 401 }, isPatch);
    api.failNext(2, tooMany, isPatch);
    const before = pace.ratePerSecond;
    const reasons = [];
    for (let i = 0; i < 5; i++) {
      const error = await failure(writer.writeCrmMetadata('sms|user-0', metadata));
      reasons.push((error as RetryLater).reason);
    }
    expect(reasons).toEqual([
      'auth0_503',
      'auth0_500',
      'auth0_unauthorized',
      'auth0_rate_limited',
      'auth0_rate_limited',
    ]);
    // The second 429 answers a write sent after the first cut: it cuts again.
    expect(pace.ratePerSecond).toBe(before / 4);
  });

  it('a 401 becomes RetryLater(auth0_unauthorized): the client re-reads its credentials', async () => {
    api.failNext(1, { status: 401 }, isPatch);
    const error = await failure(writer.writeCrmMetadata('sms|user-0', metadata));
    expect(error).toBeInstanceOf(RetryLater);
    expect(error).toMatchObject({ reason: 'auth0_unauthorized' });
  });

  it('a 403 insufficient_scope is not retried: it names the scope to grant', async () => {
    api.failNext(
      1,
      {
        status: 403,
        body: {
          statusCode: 403,
          error: 'Forbidden',
          message: 'Insufficient scope, expected any of: update:users,update:users_app_metadata',
          errorCode: 'insufficient_scope',
        },
      },
      isPatch,
    );
    const error = await failure(writer.writeCrmMetadata('sms|user-0', metadata));
    expect(error).toBeInstanceOf(MissingScopeError);
    expect(error).toMatchObject({ scopes: ['update:users', 'update:users_app_metadata'] });
    expect(String(error)).toMatch(/may not write app_metadata of users/);
  });
});
