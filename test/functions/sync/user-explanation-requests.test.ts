import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_KEY_PREFIX } from '#shared/adapters/dynamodb-stamps.ts';
import { sign } from '#shared/domain/signature.ts';
import { serveApiGateway } from '#stand-ins/api-gateway.ts';
import { httpApiEvent } from '#stand-ins/api-gateway-events.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { captureLogLines, type LogLine } from '#test/support/log-lines.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import {
  type InvokeOptions,
  type SyncHarness,
  startSyncHarness,
} from '#test/support/sync-harness.ts';

/**
 * GET /v1/users/{user_id}: how it is asked (signature, path encoding, ids, limits) and what
 * its request's log line says.
 */

const START = Date.parse('2026-11-26T08:15:00.000Z');
const ROUTE = '/v1/users/{user_id}';
let h: SyncHarness;
let seq = 0;
const newUser = () => `sms|asked-${++seq}`;
const login = (userId: string, harness = h) =>
  harness.invoke({ body: { user_id: userId, phone_number: ADA_LOVELACE.phone } });
/**
 * A GET's signature is single-use, and these tests share one table and one clock reset to
 * START: each GET is signed at a second of its own, within the signature's five minutes.
 */
let signatures = 0;
const signedAnew = (harness = h) => Math.floor(harness.clock.now / 1000) - (signatures++ % 300);
const get = (path: string, opts: InvokeOptions = {}, harness = h) =>
  harness.invoke({ method: 'GET', path, rawBody: '', timestamp: signedAnew(harness), ...opts });
const explain = (userId: string, opts: InvokeOptions = {}) =>
  get(`/v1/users/${encodeURIComponent(userId)}`, opts);

/** Invokes once and returns the response with the one `request` line it logged. */
async function logged(run: () => ReturnType<SyncHarness['invoke']>) {
  const { result, lines } = await captureLogLines(run);
  const requests = lines.filter((l) => l.message === 'request');
  expect(requests).toHaveLength(1);
  const line = requests[0] as LogLine;
  expect(line.http_status).toBe(result.status);
  expect(line.correlation_id).toBe(result.headers['x-request-id']);
  expect(line.Outcome).toBe(line.outcome);
  return { res: result, line };
}

beforeAll(async () => {
  h = await startSyncHarness();
});
afterAll(() => h.close());
afterEach(() => {
  h.clock.now = START;
});

describe('the path', () => {
  it('a percent-encoded | is the user id of the stamp (API Gateway decodes the path once)', async () => {
    const user = newUser();
    await login(user);
    const res = await get(`/v1/users/${user.replace('|', '%7C')}`);
    expect(res.status).toBe(200);
    expect(res.body.user_id).toBe(user);
  });

  it('is not decoded twice: an id holding a literal %7C, a slash or braces is found as it is', async () => {
    for (const user of ['auth0|50%7Coff', 'oauth2|corp/ada', '{user_id}']) {
      await login(user);
      const res = await explain(user);
      expect(res.status).toBe(200);
      expect(res.body.user_id).toBe(user);
    }
  });

  it('the local bridge (npm start) passes the path on decoded, as API Gateway does', async () => {
    const event = httpApiEvent({ method: 'GET', target: '/v1/users/sms%7Cabc%2Fdef?x=%7C' });
    expect(event.rawPath).toBe('/v1/users/sms|abc/def');
    expect(event.requestContext.http.path).toBe('/v1/users/sms|abc/def');
    expect(event.rawQueryString).toBe('x=%7C');
    expect(event.pathParameters).toBeUndefined();
    const user = newUser();
    await login(user);
    const api = await serveApiGateway(h.handler);
    try {
      const response = await fetch(`${api.url}/v1/users/${encodeURIComponent(user)}`, {
        headers: { 'x-sync-signature': sign(TEST_SECRETS.signing, signedAnew(), '') },
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { user_id: string }).user_id).toBe(user);
    } finally {
      await api.close();
    }
  });
});

describe('requests it refuses, echoing nothing', () => {
  const refused = async (
    run: () => ReturnType<SyncHarness['invoke']>,
    status: number,
    code: string,
  ) => {
    h.commands.clear();
    const { res, line } = await logged(run);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(line).toMatchObject({ outcome: code, route: ROUTE });
    expect(line.user_id).toBeUndefined();
    // Refused before the stamp is read.
    expect(h.commands.size).toBe(0);
    return res;
  };

  it('no signature: 401 invalid_signature', () =>
    refused(() => explain(newUser(), { secret: null }), 401, 'invalid_signature'));
  it('a wrong secret: 401 invalid_signature', () =>
    refused(() => explain(newUser(), { secret: 'guess' }), 401, 'invalid_signature'));
  it('a signature of a body that was not sent: 401 invalid_signature', async () => {
    const t = Math.floor(h.clock.now / 1000);
    const headers = { 'x-sync-signature': sign(TEST_SECRETS.signing, t, '{}') };
    await refused(() => explain(newUser(), { secret: null, headers }), 401, 'invalid_signature');
  });
  it('an old signature: 401 signature_expired', () =>
    refused(
      () => explain(newUser(), { timestamp: Math.floor(START / 1000) - 301 }),
      401,
      'signature_expired',
    ));
  it('a body, even signed: 400 invalid_request', () =>
    refused(() => explain(newUser(), { rawBody: '{"user_id":"x"}' }), 400, 'invalid_request'));

  const malformed = {
    'an empty id': '/v1/users/',
    'an id starting with # (the service keys its own items so)': '/v1/users/%23signature%23abc',
    'a control character': '/v1/users/sms%7Cab%00cd',
    'more than 256 characters': `/v1/users/sms%7C${'a'.repeat(260)}`,
  };
  for (const [what, path] of Object.entries(malformed)) {
    it(`${what}: 400 invalid_request, the id not echoed`, async () => {
      const res = await refused(() => get(path), 400, 'invalid_request');
      expect(res.body.error.message).not.toMatch(/signature#|aaaa|abcd/);
    });
  }

  it('another method: 405, naming the route, not the id', async () => {
    const res = await refused(
      () => get('/v1/users/sms%7Csecret-ish', { method: 'POST' }),
      405,
      'method_not_allowed',
    );
    expect(res.body.error.message).toBe(`use GET on ${ROUTE}`);
  });

  it("an unknown route's 404 lists the routes the API serves", async () => {
    const res = await get('/v1/nothing');
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe(
      `no such route; the API serves POST /v1/sync, GET ${ROUTE}, GET /v1/health`,
    );
  });
});

/**
 * The ledger of used signatures cannot be asked, as DynamoDB refuses a write (a real error over
 * the wire): its conditional write is sent to a table that does not exist. The stamp table
 * itself still answers, so only the ledger fails.
 */
function failLedgerWrites(client: DynamoDBClient): DynamoDBClient {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Item?: { user_id?: { S?: string } } };
      const isLedger = input.Item?.user_id?.S?.startsWith(SIGNATURE_KEY_PREFIX) === true;
      if (String(context.commandName) !== 'PutItemCommand' || !isLedger) return next(args);
      return next({ ...args, input: { ...input, TableName: 'no-such-ledger-table' } });
    },
    { step: 'initialize', name: 'failLedgerWrites' },
  );
  return client;
}

/** The keys of the items `client` reads with GetItem, in order. */
function keysRead(client: DynamoDBClient): string[] {
  const keys: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Key?: { user_id?: { S?: string } } };
      if (String(context.commandName) === 'GetItemCommand') keys.push(input.Key?.user_id?.S ?? '');
      return next(args);
    },
    { step: 'initialize', name: 'keysRead' },
  );
  return keys;
}

describe('its signature, single-use', () => {
  const signed = () => ({
    secret: null,
    headers: { 'x-sync-signature': sign(TEST_SECRETS.signing, signedAnew(), '') },
  });

  it('a second request with the same signature: 401 invalid_signature, no stamp read', async () => {
    const [user, other] = [newUser(), newUser()];
    await login(user);
    await login(other);
    const captured = signed();
    expect((await explain(user, captured)).status).toBe(200);
    h.clock.now += 60_000; // well within the signature's five minutes
    const client = h.dynamoClient();
    const replayer = { ...h, invoke: h.instance(client).invoke };
    const read = keysRead(client);
    for (const target of [other, user]) {
      const { res, line } = await logged(() =>
        get(`/v1/users/${encodeURIComponent(target)}`, captured, replayer),
      );
      expect(res.status).toBe(401);
      expect(res.body.error).toEqual({
        code: 'invalid_signature',
        message: 'this signature was used already; sign each request anew',
      });
      // A replay is not known to come from a signer: its path is not logged as a user.
      expect(line).toMatchObject({ outcome: 'invalid_signature', replayed: true, route: ROUTE });
      expect(line.user_id).toBeUndefined();
    }
    // Only the used-signature record was read (to tell a replay from a retry of our own write).
    expect(read.length).toBeGreaterThan(0);
    expect(read.filter((key) => !key.startsWith(SIGNATURE_KEY_PREFIX))).toEqual([]);
    // Signed anew, the same operator reads both.
    for (const target of [other, user]) {
      expect((await explain(target, signed())).body.user_id).toBe(target);
    }
  });

  it('the ledger cannot be asked: 500 internal_error, nothing read, the line names the fault', async () => {
    const user = newUser();
    await login(user);
    const broken = h.instance(failLedgerWrites(h.dynamoClient()));
    const { res, line } = await logged(() =>
      get(`/v1/users/${encodeURIComponent(user)}`, {}, { ...h, invoke: broken.invoke }),
    );
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('internal_error');
    expect(line).toMatchObject({
      outcome: 'internal_error',
      replay_check: 'failed',
      fault: 'ResourceNotFoundException',
    });
    expect(line.user_id).toBeUndefined();
    // Failed closed: the stamp was not read.
    expect(Object.fromEntries(broken.commands)).toEqual({ PutItemCommand: 1 });
    // A forced POST on the same instance is still answered, only not forced (unchanged).
    h.clock.now += 120_000;
    const { result, lines } = await captureLogLines(() =>
      broken.invoke({ body: { user_id: user, phone_number: ADA_LOVELACE.phone, force: true } }),
    );
    expect(result.body.status).toBe('cached');
    expect(lines.find((l) => l.message === 'request')).toMatchObject({ replay_check: 'failed' });
  });
});

describe('its log line', () => {
  it('names the route template, the user and the status, never the path as sent', async () => {
    const user = newUser();
    await login(user);
    const { res, line } = await logged(() => explain(user));
    expect(res.status).toBe(200);
    expect(line).toMatchObject({
      level: 'INFO',
      route: ROUTE,
      user_id: user,
      outcome: 'explained',
      user_status: 'synced',
    });
    expect(JSON.stringify(line)).not.toContain('%7C');
    expect(line.crm_ms).toBeUndefined();
  });

  it('an unknown user: user_not_found, with the (verified, well-formed) id', async () => {
    const { line } = await logged(() => explain('sms|nobody-here'));
    expect(line).toMatchObject({ outcome: 'user_not_found', user_id: 'sms|nobody-here' });
  });
});

describe('its throttle', () => {
  it('refuses past RATE_LIMIT_PER_SECOND with 429, from a bucket that is not the logins', async () => {
    const limited = await startSyncHarness({
      env: { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '1' },
    });
    try {
      const user = 'sms|throttled';
      expect((await login(user, limited)).status).toBe(200);
      const path = `/v1/users/${encodeURIComponent(user)}`;
      expect((await get(path, {}, limited)).status).toBe(200);
      const second = await get(path, {}, limited);
      expect(second.status).toBe(429);
      expect(second.body.error.code).toBe('throttled');
      // The logins' bucket was spent by the login, not by the look-ups.
      expect((await login('sms|throttled-2', limited)).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
