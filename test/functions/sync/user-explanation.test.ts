import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbStampStore } from '#shared/adapters/dynamodb-stamps.ts';
import { ADA_LOVELACE, UNKNOWN_PHONE } from '#stand-ins/demo-data.ts';
import { forbiddenStrings } from '#test/support/pii.ts';
import {
  type InvokeOptions,
  type SyncHarness,
  startSyncHarness,
} from '#test/support/sync-harness.ts';

/**
 * GET /v1/users/{user_id} (docs/sync-api.md) through the deployed handler on dynalite: what
 * an operator is told about a user after the logins the service actually served.
 */

const NS = 'https://crm.example.com/';
const START = Date.parse('2026-11-26T08:15:00.000Z');
const NEXT_DAY = Date.parse('2026-11-27T10:00:00.000Z');
let h: SyncHarness;
let seq = 0;
const newUser = () => `sms|explained-${++seq}`;
const login = (userId: string, phone: string = ADA_LOVELACE.phone) =>
  h.invoke({ body: { user_id: userId, phone_number: phone } });
/**
 * A GET's signature is single-use, and these tests share one table and one clock reset to
 * START: each GET is signed at a second of its own, within the signature's five minutes.
 */
let signatures = 0;
const signedAnew = () => Math.floor(h.clock.now / 1000) - (signatures++ % 300);
/** The request as `npm run explain` sends it: the id percent-encoded, signed over no body. */
const explain = (userId: string, opts: InvokeOptions = {}) =>
  h.invoke({
    method: 'GET',
    path: `/v1/users/${encodeURIComponent(userId)}`,
    rawBody: '',
    timestamp: signedAnew(),
    ...opts,
  });

beforeAll(async () => {
  // The breaker stays shut: these tests fail the CRM on purpose, one user at a time.
  h = await startSyncHarness({ env: { CRM_BREAKER_FAILURES: '1000', CRM_TIMEOUT_MS: '200' } });
});
afterAll(() => h.close());
afterEach(() => {
  h.crm.answer(undefined);
  h.clock.now = START;
});

describe('what the service tells about a user', () => {
  it('a synced user: the stamp, the names of its claims, and that the next login is answered from it', async () => {
    const user = newUser();
    await login(user);
    const res = await explain(user);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-request-id']).toBeTruthy();
    expect(res.body).toEqual({
      user_id: user,
      status: 'synced',
      fresh: true,
      crm_id: ADA_LOVELACE.id,
      synced_at: '2026-11-26T08:15:00.000Z',
      fresh_until: '2026-11-27T00:00:00.000Z',
      match_key: 'phone',
      claims: [`${NS}crm_id`, `${NS}name`],
      next_login: 'answered_from_stamp',
      last_failure: null,
      lookup_in_flight: false,
      ambiguous_matches: null,
    });
  });

  it('the same user the next day: not fresh, the next login asks the CRM', async () => {
    const user = newUser();
    await login(user);
    h.clock.now = NEXT_DAY;
    const res = await explain(user);
    expect(res.body).toMatchObject({ status: 'synced', fresh: false, next_login: 'asks_crm' });
  });

  it('a user the CRM does not know: not_found, no claims, fresh for the shorter time', async () => {
    const user = newUser();
    await login(user, UNKNOWN_PHONE);
    const res = await explain(user);
    expect(res.body).toMatchObject({
      status: 'not_found',
      crm_id: null,
      claims: [],
      fresh: true,
      fresh_until: '2026-11-26T09:15:00.000Z',
      last_failure: null,
    });
  });

  it('a user whose CRM lookup failed once the answer was no longer fresh: stale, with the code and time', async () => {
    const user = newUser();
    const first = await login(user);
    h.clock.now = NEXT_DAY;
    h.crm.answer(() => ({ status: 500, body: { error: 'boom' } }));
    expect((await login(user)).body.status).toBe('stale');
    const res = await explain(user);
    expect(res.body).toEqual({
      user_id: user,
      status: 'stale',
      fresh: false,
      crm_id: ADA_LOVELACE.id,
      synced_at: first.body.synced_at,
      fresh_until: first.body.fresh_until,
      match_key: 'phone',
      claims: Object.keys(first.body.claims),
      next_login: 'asks_crm',
      last_failure: { code: 'http_status', at: '2026-11-27T10:00:00.000Z' },
      lookup_in_flight: false,
      ambiguous_matches: null,
    });
  });

  it('a forced lookup that failed while the stamp is fresh: still synced, the failure shown', async () => {
    const user = newUser();
    const first = await login(user);
    h.clock.now += 120_000; // past the minute between forced lookups; the day's stamp is fresh
    h.crm.answer(() => ({ status: 500, body: { error: 'boom' } }));
    const forced = await h.invoke({
      body: { user_id: user, phone_number: ADA_LOVELACE.phone, force: true },
    });
    expect(forced.body.status).toBe('stale');
    const failedAt = new Date(h.clock.now).toISOString();
    const res = await explain(user);
    expect(res.body).toEqual({
      user_id: user,
      status: 'synced',
      fresh: true,
      crm_id: ADA_LOVELACE.id,
      synced_at: first.body.synced_at,
      fresh_until: first.body.fresh_until,
      match_key: 'phone',
      claims: Object.keys(first.body.claims),
      next_login: 'answered_from_stamp',
      last_failure: { code: 'http_status', at: failedAt },
      lookup_in_flight: false,
      ambiguous_matches: null,
    });
    // As the logins are answered: from the fresh stamp, not stale.
    const next = await login(user);
    expect(next.body).toMatchObject({ status: 'cached', claims: first.body.claims });
  });

  it('a new user whose CRM lookup timed out: failed, nothing known, the code and time', async () => {
    const user = newUser();
    h.crm.answer(() => ({ status: 200, body: {}, delayMs: 400 }));
    expect((await login(user)).status).toBe(503);
    const res = await explain(user);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user_id: user,
      status: 'failed',
      fresh: false,
      crm_id: null,
      synced_at: null,
      fresh_until: null,
      match_key: 'phone',
      claims: [],
      next_login: 'asks_crm',
      last_failure: { code: 'timeout', at: '2026-11-26T08:15:00.000Z' },
      lookup_in_flight: false,
      ambiguous_matches: null,
    });
  });

  it('an answer after a failure clears it: synced again, no last_failure', async () => {
    const user = newUser();
    h.crm.answer(() => ({ status: 200, raw: '<html>not json</html>' }));
    await login(user);
    expect((await explain(user)).body.last_failure).toEqual({
      code: 'invalid_response',
      at: '2026-11-26T08:15:00.000Z',
    });
    h.crm.answer(undefined);
    h.clock.now += 60_000;
    expect((await login(user)).body.status).toBe('synced');
    const res = await explain(user);
    expect(res.body).toMatchObject({ status: 'synced', last_failure: null, fresh: true });
  });

  it('an unknown user: 404 user_not_found', async () => {
    const res = await explain('sms|never-logged-in');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('user_not_found');
    expect(res.body.error.message).not.toContain('never-logged-in');
  });

  it('a lookup in flight: lookup_in_flight for a known user, 404 (saying so) for a new one', async () => {
    const store = new DynamoDbStampStore({
      client: h.dynamoClient(),
      tableName: h.tableName,
      retentionDays: 1,
    });
    const known = newUser();
    await login(known);
    h.clock.now = NEXT_DAY;
    const lease = { now: h.clock.now, until: h.clock.now + 5_000, basis: 'b', force: false };
    const forcedSince = 0;
    for (const user of [known, 'sms|first-lookup-running']) {
      const attempt = await store.acquireLease(user, { ...lease, owner: user, forcedSince });
      expect(attempt.acquired).toBe(true);
    }
    expect((await explain(known)).body).toMatchObject({ status: 'synced', lookup_in_flight: true });
    const first = await explain('sms|first-lookup-running');
    expect(first.status).toBe(404);
    expect(first.body.error.message).toMatch(/in flight/);
  });

  it('holds no phone number, email, unmapped CRM field or claim value', async () => {
    const user = newUser();
    await login(user);
    const text = JSON.stringify((await explain(user)).body);
    const leaks = ['London', 'never in a token', 'gold', ADA_LOVELACE.name];
    for (const leak of [...forbiddenStrings(), ...leaks]) {
      expect(text).not.toContain(leak);
    }
  });
});

describe('what it costs', () => {
  it('one conditional write of its signature, one consistent read, no CRM call', async () => {
    const user = newUser();
    await login(user);
    const asked = h.crm.requests.length;
    h.commands.clear();
    await explain(user);
    // The used-signature record (single use), then the stamp.
    expect(Object.fromEntries(h.commands)).toEqual({ PutItemCommand: 1, GetItemCommand: 1 });
    expect(h.crm.requests.length).toBe(asked);
  });

  it('recording a failed lookup adds no DynamoDB call to the login: one read, two updates', async () => {
    h.crm.answer(() => ({ status: 503 }));
    h.commands.clear();
    await login(newUser());
    // The stamp read, the lease, and its release that also records the failure.
    expect(Object.fromEntries(h.commands)).toEqual({ GetItemCommand: 1, UpdateItemCommand: 2 });
  });
});
