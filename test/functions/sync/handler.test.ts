import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_PATH_AWS_CLIENT_OPTIONS } from '#functions/sync/aws-clients.ts';
import { ADA_LOVELACE, GRACE_HOPPER, UNKNOWN_PHONE } from '#stand-ins/demo-data.ts';
import { localAwsEndpoint } from '#stand-ins/local-aws-clients.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import { ADA, type SyncHarness, startSyncHarness } from '#test/support/sync-harness.ts';

const NS = 'https://crm.example.com/';
let h: SyncHarness;
let userSeq = 0;
const newUser = () => `sms|user-${++userSeq}`;
const ada = (userId: string, extra: Record<string, unknown> = {}) => ({
  body: { user_id: userId, phone_number: '+1 (555) 010-0001', ...extra },
});

beforeAll(async () => {
  h = await startSyncHarness();
});
afterAll(() => h.close());
afterEach(() => h.crm.answer(undefined));

describe('a first login', () => {
  it('asks the CRM once and returns the mapped claims and app_metadata', async () => {
    const user = newUser();
    const before = h.crm.requests.length;
    const res = await h.invoke(ada(user));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body).toEqual({
      user_id: user,
      status: 'synced',
      crm_id: ADA_LOVELACE.id,
      synced_at: '2026-11-26T08:15:00.000Z',
      fresh_until: '2026-11-27T00:00:00.000Z',
      claims: { [`${NS}crm_id`]: ADA_LOVELACE.id, [`${NS}name`]: ADA_LOVELACE.name },
      app_metadata: {
        id: ADA_LOVELACE.id,
        synced_at: '2026-11-26T08:15:00.000Z',
        fresh_until: '2026-11-27T00:00:00.000Z',
        namespace: NS,
        fields: { crm_id: ADA_LOVELACE.id, name: ADA_LOVELACE.name },
      },
    });
    expect(h.crm.requests.length - before).toBe(1);
  });

  it('sends the CRM the E.164 number and the API key, as the old rule did', async () => {
    await h.invoke(ada(newUser()));
    const sent = h.crm.requests.at(-1);
    expect(sent?.body).toEqual({ phoneNumber: ADA_LOVELACE.phone, extended: true });
    expect(sent?.headers['x-api-key']).toBe(TEST_SECRETS.crmApiKey);
    expect(sent?.headers['content-type']).toBe('application/json');
  });

  it('never copies unmapped CRM fields into claims or metadata', async () => {
    const res = await h.invoke(ada(newUser()));
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(ADA.notes);
    expect(text).not.toContain('London');
    expect(text).not.toContain('gold');
  });

  it('accepts a base64-encoded body, as API Gateway sends for some content types', async () => {
    const res = await h.invoke({ ...ada(newUser()), base64: true });
    expect(res.status).toBe(200);
    expect(res.body.crm_id).toBe(ADA_LOVELACE.id);
  });
});

describe('later logins', () => {
  it('a second login the same day does not ask the CRM and returns identical claims', async () => {
    const user = newUser();
    const first = await h.invoke(ada(user));
    const asked = h.crm.requests.length;
    h.clock.now += 60 * 60 * 1000;
    const second = await h.invoke(ada(user));
    expect(h.crm.requests.length).toBe(asked);
    expect(second.body.status).toBe('cached');
    expect(second.body.claims).toEqual(first.body.claims);
    expect(second.body.app_metadata).toEqual(first.body.app_metadata);
  });

  it('the first login of the next sync day asks the CRM again', async () => {
    const user = newUser();
    await h.invoke(ada(user));
    const asked = h.crm.requests.length;
    h.clock.now = Date.parse('2026-11-27T00:00:01Z');
    const next = await h.invoke(ada(user));
    expect(next.body.status).toBe('synced');
    expect(h.crm.requests.length).toBe(asked + 1);
    h.clock.now = Date.parse('2026-11-26T08:15:00.000Z');
  });

  it('force asks the CRM even when today is already stamped', async () => {
    const user = newUser();
    await h.invoke(ada(user));
    const asked = h.crm.requests.length;
    h.clock.now += 61_000;
    const forced = await h.invoke(ada(user, { force: true }));
    expect(forced.body.status).toBe('synced');
    expect(h.crm.requests.length).toBe(asked + 1);
    h.clock.now -= 61_000;
  });

  it('a changed phone number is looked up again the same day', async () => {
    const user = newUser();
    await h.invoke(ada(user));
    const changed = await h.invoke({ body: { user_id: user, phone_number: GRACE_HOPPER.phone } });
    expect(changed.body.status).toBe('synced');
    expect(changed.body.crm_id).toBe(GRACE_HOPPER.id);
  });

  it('a cached login costs one DynamoDB read; a sync one read and two writes', async () => {
    const user = newUser();
    h.commands.clear();
    await h.invoke(ada(user));
    expect(Object.fromEntries(h.commands)).toEqual({
      GetItemCommand: 1,
      UpdateItemCommand: 1,
      PutItemCommand: 1,
    });
    h.commands.clear();
    await h.invoke(ada(user));
    expect(Object.fromEntries(h.commands)).toEqual({ GetItemCommand: 1 });
  });
});

describe('a user the CRM does not know', () => {
  it('is stamped not_found with a shorter freshness and not asked again within it', async () => {
    const user = newUser();
    const res = await h.invoke({ body: { user_id: user, phone_number: UNKNOWN_PHONE } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'not_found', crm_id: null, claims: {} });
    expect(res.body.fresh_until).toBe('2026-11-26T09:15:00.000Z');
    expect(res.body.app_metadata).toMatchObject({ id: null, fields: {} });
    const asked = h.crm.requests.length;
    const again = await h.invoke({ body: { user_id: user, phone_number: UNKNOWN_PHONE } });
    expect(again.body).toMatchObject({ status: 'cached', crm_id: null });
    expect(h.crm.requests.length).toBe(asked);
  });
});

describe('when the CRM fails', () => {
  const failures = {
    'a 500': { status: 500, body: { error: 'boom' } },
    'a 401 (bad key)': { status: 401, body: {} },
    garbage: { status: 200, raw: '<html>not json</html>' },
    'a JSON array': { status: 200, body: [ADA] },
    'JSON null': { status: 200, raw: 'null' },
    'a JSON string': { status: 200, raw: JSON.stringify(ADA_LOVELACE.id) },
    'a record without an id': { status: 200, body: { name: 'No Id' } },
    'a timeout': { status: 200, body: ADA, delayMs: 3_500 },
  };

  for (const [what, reply] of Object.entries(failures)) {
    it(`${what} for a new user gives 503 crm_unavailable and stamps nothing`, async () => {
      const user = newUser();
      h.crm.answer(() => reply);
      const res = await h.invoke(ada(user));
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('crm_unavailable');
      expect(JSON.stringify(res.body)).not.toMatch(/boom|html|No Id/);
      h.crm.answer(undefined);
      const retry = await h.invoke(ada(user));
      expect(retry.body.status).toBe('synced');
    });
  }

  it('a known user gets the last known data as stale, retried a few minutes later', async () => {
    const user = newUser();
    const first = await h.invoke(ada(user));
    h.clock.now = Date.parse('2026-11-27T10:00:00Z');
    h.crm.answer(() => ({ status: 500 }));
    const stale = await h.invoke(ada(user));
    expect(stale.status).toBe(200);
    expect(stale.body).toMatchObject({
      status: 'stale',
      crm_id: ADA_LOVELACE.id,
      synced_at: first.body.synced_at,
      fresh_until: '2026-11-27T10:05:00.000Z',
      claims: first.body.claims,
    });
    h.crm.answer(undefined);
    const recovered = await h.invoke(ada(user));
    expect(recovered.body.status).toBe('synced');
    expect(recovered.body.synced_at).toBe('2026-11-27T10:00:00.000Z');
    h.clock.now = Date.parse('2026-11-26T08:15:00.000Z');
  });

  it('hostile JSON keys (__proto__, constructor) are inert', async () => {
    h.crm.answer(() => ({
      status: 200,
      raw: '{"id":"C-666","name":"Eve","__proto__":{"name":"polluted","isAdmin":true},"constructor":{"prototype":{"x":1}}}',
    }));
    const res = await h.invoke(ada(newUser()));
    expect(res.body.claims).toEqual({ [`${NS}crm_id`]: 'C-666', [`${NS}name`]: 'Eve' });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });
});

describe('requests the contract refuses', () => {
  const refused = async (
    opts: Parameters<SyncHarness['invoke']>[0],
    status: number,
    code: string,
  ) => {
    const asked = h.crm.requests.length;
    h.commands.clear();
    const res = await h.invoke(opts);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe('string');
    // No 4xx asks the CRM or writes a stamp.
    expect(h.crm.requests.length).toBe(asked);
    expect(h.commands.get('PutItemCommand') ?? 0).toBe(0);
    expect(h.commands.get('UpdateItemCommand') ?? 0).toBe(0);
    return res;
  };

  it('no signature: 401 invalid_signature', () =>
    refused({ ...ada(newUser()), secret: null }, 401, 'invalid_signature'));
  it('a malformed signature header: 401 invalid_signature', () =>
    refused(
      { ...ada(newUser()), secret: null, headers: { 'x-sync-signature': 'v1=abc,t=1' } },
      401,
      'invalid_signature',
    ));
  it('a wrong secret: 401 invalid_signature, echoing nothing', async () => {
    const res = await refused({ ...ada(newUser()), secret: 'guess' }, 401, 'invalid_signature');
    expect(JSON.stringify(res.body)).not.toMatch(/guess|t=|v1=|555/);
  });
  it('a signature older than five minutes: 401 signature_expired', () =>
    refused(
      { ...ada(newUser()), timestamp: Math.floor(h.clock.now / 1000) - 301 },
      401,
      'signature_expired',
    ));
  it('a signature from 61 s in the future: 401 signature_expired', () =>
    refused(
      { ...ada(newUser()), timestamp: Math.floor(h.clock.now / 1000) + 61 },
      401,
      'signature_expired',
    ));
  it('a signature from 60 s in the future (a caller clock running ahead) is accepted', async () => {
    const res = await h.invoke({
      ...ada(newUser()),
      timestamp: Math.floor(h.clock.now / 1000) + 60,
    });
    expect(res.status).toBe(200);
  });
  it('a body over 16 KiB: 413 payload_too_large', () =>
    refused(
      {
        body: { user_id: newUser(), phone_number: ADA_LOVELACE.phone, pad: 'x'.repeat(16 * 1024) },
      },
      413,
      'payload_too_large',
    ));
  it('text/plain: 415 unsupported_media_type', () =>
    refused(
      { ...ada(newUser()), headers: { 'content-type': 'text/plain' } },
      415,
      'unsupported_media_type',
    ));
  it('bad JSON: 400 invalid_request', () =>
    refused(
      { rawBody: `{"user_id": "sms|x", "phone_number": "${ADA_LOVELACE.phone}"` },
      400,
      'invalid_request',
    ));
  it('a JSON array: 400 invalid_request', () => refused({ body: [1] }, 400, 'invalid_request'));
  it('no user_id: 400 invalid_request', () =>
    refused({ body: { phone_number: ADA_LOVELACE.phone } }, 400, 'invalid_request'));
  it('a user_id of 257 characters: 400 invalid_request', () =>
    refused(
      { body: { user_id: 'x'.repeat(257), phone_number: ADA_LOVELACE.phone } },
      400,
      'invalid_request',
    ));
  // Lone surrogates become U+FFFD on their way to DynamoDB: two such ids would share a stamp.
  it.each(['sms|x\ud800', 'sms|x\udbff', 'sms|\udc00x'])(
    'a user_id that is not well-formed UTF-16 (%j): 400 invalid_request',
    async (userId) => {
      await refused(ada(userId), 400, 'invalid_request');
    },
  );
  it.each(['sms|x\u0000', 'sms|x\ny', '#signature#abc'])(
    'a user_id with a control character or the reserved # prefix (%j): 400 invalid_request',
    async (userId) => {
      await refused(ada(userId), 400, 'invalid_request');
    },
  );
  it('a phone number that is not well-formed UTF-16: 400 invalid_request', () =>
    refused({ body: { user_id: newUser(), phone_number: '+1555\ud800' } }, 400, 'invalid_request'));
  it('a numeric user_id: 400 invalid_request', () =>
    refused({ body: { user_id: 42, phone_number: ADA_LOVELACE.phone } }, 400, 'invalid_request'));
  it('force that is not a boolean: 400 invalid_request', () =>
    refused(ada(newUser(), { force: 'yes' }), 400, 'invalid_request'));
  it('no match key (phone by default): 400 invalid_request', () =>
    refused({ body: { user_id: newUser(), email: 'ada@example.com' } }, 400, 'invalid_request'));
  it('an unreadable phone number: 400 invalid_phone_number, not echoed', async () => {
    const res = await refused(
      { body: { user_id: newUser(), phone_number: '+1 555 CALL NOW' } },
      400,
      'invalid_phone_number',
    );
    expect(JSON.stringify(res.body)).not.toContain('CALL NOW');
  });
  it('an unknown route: 404 not_found', () =>
    refused({ ...ada(newUser()), path: '/v1/users' }, 404, 'not_found'));
  it('GET on /v1/sync: 405 method_not_allowed', () =>
    refused({ ...ada(newUser()), method: 'GET' }, 405, 'method_not_allowed'));
});

describe('signing secret rotation', () => {
  it('accepts the previous secret while it is configured', async () => {
    const res = await h.invoke({ ...ada(newUser()), secret: TEST_SECRETS.previousSigning });
    expect(res.status).toBe(200);
  });

  it('refuses the old secret once the rotation is finished', async () => {
    const after = await startSyncHarness({ env: { SYNC_SIGNING_SECRET: TEST_SECRETS.signing } });
    try {
      const old = await after.invoke({ ...ada(newUser()), secret: TEST_SECRETS.previousSigning });
      expect(old.status).toBe(401);
      const current = await after.invoke(ada(newUser()));
      expect(current.status).toBe(200);
    } finally {
      await after.close();
    }
  });
});

describe('health', () => {
  it('answers 200 {"status":"ok"} without a signature', async () => {
    const res = await h.invoke({ method: 'GET', path: '/v1/health', secret: null });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });
});

describe('rate limit', () => {
  it('over the configured rate: 429 throttled, then served again', async () => {
    const limited = await startSyncHarness({
      env: { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '2' },
    });
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await limited.invoke(ada(newUser()))).status);
      expect(statuses).toEqual([200, 200, 429]);
      const throttled = await limited.invoke(ada(newUser()));
      expect(throttled.body.error.code).toBe('throttled');
      limited.clock.now += 1_000;
      expect((await limited.invoke(ada(newUser()))).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('when DynamoDB is unavailable', () => {
  it('the login is still answered from the CRM', async () => {
    const { localDynamoDbClient } = await import('#stand-ins/embedded-dynamodb.ts');
    const down = h.instance(localDynamoDbClient('http://127.0.0.1:9'));
    const res = await down.invoke(ada(newUser()));
    expect(res.status).toBe(200);
    expect(res.body.crm_id).toBe(ADA_LOVELACE.id);
  });

  it('a DynamoDB that accepts connections and never answers does not hold the login', async () => {
    // With the SDK's defaults this request would wait for the Lambda's own timeout.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const dynamodb = new DynamoDBClient({
        ...LOGIN_PATH_AWS_CLIENT_OPTIONS,
        ...localAwsEndpoint(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`),
      });
      const res = await h.instance(dynamodb).invoke(ada(newUser()));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'synced', crm_id: ADA_LOVELACE.id });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});
