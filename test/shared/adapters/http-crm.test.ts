import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CrmKeyReadTimeout } from '#shared/adapters/crm-exchange.ts';
import { HttpCrm } from '#shared/adapters/http-crm.ts';
import { type HostileCrm, startHostileCrm } from '#stand-ins/crm-server.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { gzipBomb } from '#stand-ins/hostile-crm.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import { crmFailure } from '#test/support/rejection.ts';

const MiB = 1024 * 1024;
const ada = { kind: 'phone', e164: ADA_LOVELACE.phone } as const;
const NOW = Date.parse('2026-11-26T08:15:00.000Z');
let crm: HostileCrm;
let elsewhere: HostileCrm;

const client = (options: { timeoutMs?: number; maxResponseBytes?: number } = {}) =>
  new HttpCrm({
    url: crm.url,
    apiKey: async () => TEST_SECRETS.crmApiKey,
    timeoutMs: options.timeoutMs ?? 2_500,
    maxResponseBytes: options.maxResponseBytes ?? MiB,
    clock: () => NOW,
  });

const failure = crmFailure;

beforeAll(async () => {
  gzipBomb(300 * MiB); // built once here, not inside the lookup's deadline
  crm = await startHostileCrm();
  // Another origin, that would happily answer with a record if it were ever asked.
  elsewhere = await startHostileCrm({ body: { id: 'C-EVIL', name: 'Mallory' } });
});
afterAll(async () => {
  await crm.close();
  await elsewhere.close();
});

describe('a CRM that redirects', () => {
  it.each([301, 302, 303, 307, 308] as const)(
    'a %i is a failure, not followed: the API key never reaches the other origin',
    async (status) => {
      crm.behave({ kind: 'redirect', status, to: `${elsewhere.origin}/steal` });
      const seen = elsewhere.requests.length;
      const error = await failure(client().find(ada));
      expect(error.reason).toBe('redirect');
      expect(error.httpStatus).toBe(status);
      expect(elsewhere.requests.length).toBe(seen);
    },
  );
});

describe('a CRM that sends too much', () => {
  it('a 300 MiB gzip bomb (about 300 KiB on the wire) is cut off at the cap', async () => {
    crm.behave({ kind: 'gzip-bomb', inflatedBytes: 300 * MiB });
    expect((await failure(client().find(ada))).reason).toBe('too_large');
  });

  it('50 MiB chunked without content-length is cut off, and the connection dropped', async () => {
    crm.behave({ kind: 'stream', totalBytes: 50 * MiB });
    const abandoned = crm.abandoned();
    expect((await failure(client().find(ada))).reason).toBe('too_large');
    await expect.poll(() => crm.abandoned()).toBe(abandoned + 1);
  });

  it('a content-length over the cap is refused before the body is read', async () => {
    crm.behave({ kind: 'lying-length', declared: 2 * MiB, sent: 10 });
    expect((await failure(client().find(ada))).reason).toBe('too_large');
  });

  it('a content-length that understates the body does not lift the cap', async () => {
    crm.behave({ kind: 'lying-length', declared: 100, sent: 4 * MiB });
    const error = await failure(client({ maxResponseBytes: 64 * 1024 }).find(ada));
    // Either the cap or the broken framing stops it; never a record built from 4 MiB.
    expect(['too_large', 'invalid_response', 'network']).toContain(error.reason);
  });

  it('an answer of exactly the cap is read; one byte more is not', async () => {
    const record = (size: number) => {
      const base = JSON.stringify({ id: ADA_LOVELACE.id, pad: '' });
      return Buffer.from(
        JSON.stringify({ id: ADA_LOVELACE.id, pad: 'x'.repeat(size - base.length) }),
      );
    };
    crm.behave({ kind: 'bytes', body: record(4_096) });
    await expect(client({ maxResponseBytes: 4_096 }).find(ada)).resolves.toMatchObject({
      id: ADA_LOVELACE.id,
    });
    crm.behave({ kind: 'bytes', body: record(4_097) });
    expect((await failure(client({ maxResponseBytes: 4_096 }).find(ada))).reason).toBe('too_large');
  });
});

describe('a CRM that is slow or malformed', () => {
  it('a body dripping a byte at a time is cut off by the one deadline', async () => {
    crm.behave({ kind: 'drip', intervalMs: 20 });
    expect((await failure(client({ timeoutMs: 300 }).find(ada))).reason).toBe('timeout');
  });

  it('a body that is not UTF-8 is an invalid answer', async () => {
    crm.behave({ kind: 'bytes', body: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) });
    expect((await failure(client().find(ada))).reason).toBe('invalid_response');
  });

  it('JSON nested a hundred thousand deep is an invalid answer, not a crash', async () => {
    crm.behave({
      kind: 'bytes',
      body: Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
    });
    expect((await failure(client().find(ada))).reason).toBe('invalid_response');
  });
});

describe('a CRM that asks us to wait', () => {
  it('a 429 with Retry-After in seconds reports how long', async () => {
    crm.behave({ status: 429, headers: { 'retry-after': '120' } });
    const error = await failure(client().find(ada));
    expect(error).toMatchObject({ reason: 'rate_limited', httpStatus: 429, retryAfterMs: 120_000 });
  });

  it('a 503 with Retry-After as an HTTP date reports how long', async () => {
    const at = new Date(NOW + 90_000).toUTCString();
    crm.behave({ status: 503, headers: { 'retry-after': at } });
    const error = await failure(client().find(ada));
    expect(error).toMatchObject({ reason: 'http_status', httpStatus: 503, retryAfterMs: 90_000 });
  });

  it('a Retry-After that is garbage or in the past is ignored', async () => {
    for (const value of ['soon', '-5', new Date(NOW - 1_000).toUTCString()]) {
      crm.behave({ status: 429, headers: { 'retry-after': value } });
      expect((await failure(client().find(ada))).retryAfterMs).toBeUndefined();
    }
  });
});

describe('the one deadline', () => {
  it('covers reading the API key: a slow Secrets Manager refresh ends the call in time', async () => {
    crm.behave({ body: { id: ADA_LOVELACE.id } });
    const slowKey = new HttpCrm({
      url: crm.url,
      apiKey: () => new Promise((resolve) => setTimeout(() => resolve('late-key'), 2_000)),
      timeoutMs: 200,
      maxResponseBytes: MiB,
    });
    const asked = crm.requests.length;
    // A fault of ours, not the CRM's: not a CrmFailure, so the circuit breaker does not count it.
    await expect(slowKey.find(ada)).rejects.toBeInstanceOf(CrmKeyReadTimeout);
    expect(crm.requests.length).toBe(asked);
  });
});
