import { Management } from 'auth0';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { rejection } from '#test/support/rejection.ts';

/**
 * The stand-in's rate limits mean what Auth0 says its headers mean (docs-v2 rate-limit-policy/
 * rate-limit-use-cases.mdx): x-ratelimit-limit is the bucket's size, x-ratelimit-reset the
 * UNIX second when the next request is added; a 429 carries those headers and errorCode
 * too_many_requests, and no Retry-After. Read through the real SDK.
 */

let api: ManagementApi;

beforeEach(async () => {
  api = await startManagementApi();
  api.seedUsers(2);
});

afterEach(async () => {
  await api.close();
});

const nowSecond = () => Date.now() / 1000;
const patch = (client: ReturnType<ManagementApi['client']>, id = 'sms|user-0') =>
  client.users.update(id, { app_metadata: { n: 1 } }).withRawResponse();

describe('the stand-in rate limit, as Auth0 answers it', () => {
  it('x-ratelimit-limit is the burst, remaining counts down, reset is the next token’s second', async () => {
    const client = api.client({ maxRetries: 0 });
    await client.users.get('sms|user-0');
    // One request added every 5 s, a bucket of 3: full again 15 s after three calls.
    api.setRateLimit({ perSecond: 0.2, burst: 3 });
    const answers = [];
    for (let i = 0; i < 3; i++) {
      answers.push((await client.users.get('sms|user-0').withRawResponse()).rawResponse.headers);
    }
    expect(answers.map((h) => h.get('x-ratelimit-limit'))).toEqual(['3', '3', '3']);
    expect(answers.map((h) => h.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0']);
    const reset = Number(answers[2]?.get('x-ratelimit-reset'));
    // The next request comes about 5 s after the first call, not when the bucket is full (15 s).
    expect(reset).toBeGreaterThanOrEqual(Math.floor(nowSecond()));
    expect(reset).toBeLessThanOrEqual(Math.ceil(nowSecond() + 5));
  });

  it('a 429 carries the headers and errorCode too_many_requests, and no Retry-After', async () => {
    const client = api.client({ maxRetries: 0 });
    await client.users.get('sms|user-0');
    api.setRateLimit({ perSecond: 0.5, burst: 1 });
    await client.users.get('sms|user-0');
    const limited = await rejection(client.users.get('sms|user-0'));

    expect(limited).toBeInstanceOf(Management.TooManyRequestsError);
    expect(limited.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: 'Global limit has been reached',
      errorCode: 'too_many_requests',
    });
    const headers = limited.rawResponse?.headers;
    expect(headers?.get('retry-after')).toBeNull();
    expect(headers?.get('x-ratelimit-limit')).toBe('1');
    expect(headers?.get('x-ratelimit-remaining')).toBe('0');
    const reset = Number(headers?.get('x-ratelimit-reset'));
    expect(reset).toBeGreaterThanOrEqual(Math.floor(nowSecond()));
    expect(reset).toBeLessThanOrEqual(Math.ceil(nowSecond() + 2));
  });

  it('the old number form is a global bucket whose burst is its rate', async () => {
    const client = api.client({ maxRetries: 0 });
    await client.users.get('sms|user-0');
    api.setRateLimit(2);
    const ok = await client.users.get('sms|user-0').withRawResponse();
    expect(ok.rawResponse.headers.get('x-ratelimit-limit')).toBe('2');
    expect(ok.rawResponse.headers.get('x-ratelimit-remaining')).toBe('1');
    api.setRateLimit(undefined);
    const free = await client.users.get('sms|user-0').withRawResponse();
    expect(free.rawResponse.headers.get('x-ratelimit-limit')).toBeNull();
  });

  it('the Write Users bucket limits PATCH /users only, with its own message; a refusal spends nothing', async () => {
    const client = api.client({ maxRetries: 0 });
    await client.users.get('sms|user-0');
    api.setRateLimit({
      global: { perSecond: 0.1, burst: 3 },
      writeUsers: { perSecond: 0.1, burst: 1 },
    });
    const written = await patch(client);
    // The bucket about to refuse is the one the headers describe: Write Users, now empty.
    expect(written.rawResponse.headers.get('x-ratelimit-limit')).toBe('1');
    expect(written.rawResponse.headers.get('x-ratelimit-remaining')).toBe('0');

    const refused = await rejection(patch(client, 'sms|user-1'));
    expect(refused.statusCode).toBe(429);
    expect(refused.body).toMatchObject({
      message: 'Global per second users_write group limit has been reached',
      errorCode: 'too_many_requests',
    });
    // Reads still go through: the refused PATCH took no token from the global bucket.
    const read = await client.users.get('sms|user-1').withRawResponse();
    expect(read.rawResponse.headers.get('x-ratelimit-limit')).toBe('3');
    expect(read.rawResponse.headers.get('x-ratelimit-remaining')).toBe('1');
    expect(api.users.get('sms|user-1')?.app_metadata).toEqual({});
  });
});
