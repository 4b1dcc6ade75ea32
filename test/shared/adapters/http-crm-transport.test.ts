import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpCrm } from '#shared/adapters/http-crm.ts';
import type { CrmFailure } from '#shared/domain/ports.ts';
import { type HostileCrm, startHostileCrm } from '#stand-ins/crm-server.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import { crmFailure } from '#test/support/rejection.ts';

/**
 * The CRM's HTTP exchange on node:http (shared/adapters/bounded-http.ts) where it differs from
 * what fetch did for us: decoding, connection reuse, and what a broken answer leaves behind.
 */
const ada = { kind: 'phone', e164: ADA_LOVELACE.phone } as const;
const record = Buffer.from(JSON.stringify({ id: ADA_LOVELACE.id, name: 'Ada Lovelace' }));
let crm: HostileCrm;

const client = () =>
  new HttpCrm({
    url: crm.url,
    apiKey: async () => TEST_SECRETS.crmApiKey,
    timeoutMs: 2_500,
    maxResponseBytes: 64 * 1024,
  });

const failure = crmFailure;

beforeAll(async () => {
  crm = await startHostileCrm();
});
afterAll(async () => {
  await crm.close();
});

describe('content codings', () => {
  // RFC 9110 §8.4: x-gzip is gzip; codings are listed in the order they were applied.
  it.each([
    ['gzip', gzipSync(record)],
    ['x-gzip', gzipSync(record)],
    ['deflate', deflateSync(record)],
    ['deflate sent raw, without its zlib header (as some servers do)', deflateRawSync(record)],
    ['br', brotliCompressSync(record)],
    ['gzip, br', brotliCompressSync(gzipSync(record))],
  ])('a record sent as %s is decoded', async (coding, body) => {
    crm.behave({
      kind: 'encoded',
      coding: coding.startsWith('deflate') ? 'deflate' : coding,
      body,
    });
    await expect(client().find(ada)).resolves.toMatchObject({ id: ADA_LOVELACE.id });
  });

  it('asks for the codings it decodes, and only those, and says who is asking', async () => {
    crm.behave({ body: { id: ADA_LOVELACE.id } });
    await client().find(ada);
    expect(crm.requests.at(-1)?.headers).toMatchObject({
      'accept-encoding': 'gzip, deflate, br',
      accept: 'application/json',
      'user-agent': 'auth0-crm-sync',
      'content-type': 'application/json',
      connection: 'keep-alive',
    });
  });

  it.each([
    ['a coding never offered', 'zstd', record],
    ['three layers', 'gzip, gzip, gzip', gzipSync(gzipSync(gzipSync(record)))],
    ['gzip that is not gzip', 'gzip', record],
    ['a gzip cut short', 'gzip', gzipSync(record).subarray(0, 12)],
    ['an empty gzip body', 'gzip', Buffer.alloc(0)],
  ])('%s is an invalid answer', async (_case, coding, body) => {
    crm.behave({ kind: 'encoded', coding, body });
    expect((await failure(client().find(ada))).reason).toBe('invalid_response');
  });
});

describe('many small reads', () => {
  it('forty thousand one-byte chunks stop at the cap, kept in one buffer', async () => {
    crm.behave({ kind: 'tiny-chunks', count: 40_000 });
    const small = new HttpCrm({
      url: crm.url,
      apiKey: async () => TEST_SECRETS.crmApiKey,
      timeoutMs: 5_000,
      maxResponseBytes: 16 * 1024,
    });
    expect((await failure(small.find(ada))).reason).toBe('too_large');
  });
});

describe('connections', () => {
  it('a kept-alive connection the CRM closes as it is reused: the lookup is sent again on a new one', async () => {
    crm.behave({ kind: 'hang-up-on-reuse', body: record });
    const lookup = client();
    await expect(lookup.find(ada)).resolves.toMatchObject({ id: ADA_LOVELACE.id });
    const [connections, requests] = [crm.connections(), crm.requests.length];
    await expect(lookup.find(ada)).resolves.toMatchObject({ id: ADA_LOVELACE.id });
    // Two requests: the one the closing connection swallowed, and its retry on a new connection.
    expect(crm.requests.length - requests).toBe(2);
    expect(crm.connections() - connections).toBe(1);
  });

  it('lookups one after another share one kept-alive connection', async () => {
    crm.behave({ body: { id: ADA_LOVELACE.id } });
    const lookup = client();
    await lookup.find(ada);
    const before = crm.connections();
    for (let i = 0; i < 5; i++) await lookup.find(ada);
    expect(crm.connections()).toBe(before);
  });

  it.each([404, 302, 401, 429])(
    'a %i whose body is cut by a reset is still answered as its status',
    async (status) => {
      crm.behave({ kind: 'reset-mid-body', status, body: Buffer.alloc(64 * 1024, 0x20) });
      const outcome = await client()
        .find(ada)
        .then(
          (record) => ({ record }),
          (error: CrmFailure) => ({ httpStatus: error.httpStatus }),
        );
      expect(outcome).toEqual(status === 404 ? { record: null } : { httpStatus: status });
    },
  );

  it('a connection reset in the middle of the body is a network failure', async () => {
    crm.behave({ kind: 'reset-mid-body', body: record });
    expect((await failure(client().find(ada))).reason).toBe('network');
  });

  it('bytes sent past an answer on a kept-alive connection are never read as the next answer', async () => {
    const forged = '{"id":"C-EVIL"}';
    crm.behave({
      kind: 'smuggle',
      body: record,
      forged: `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${forged.length}\r\n\r\n${forged}`,
    });
    const lookup = client();
    await expect(lookup.find(ada)).resolves.toMatchObject({ id: ADA_LOVELACE.id });
    // Well after the stand-in sent the forged bytes (20 ms), while no request is outstanding.
    await new Promise((resolve) => setTimeout(resolve, 250));
    crm.behave({ body: { id: 'C-NEXT' } });
    await expect(lookup.find(ada)).resolves.toMatchObject({ id: 'C-NEXT' });
  });
});
