import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADA_LOVELACE, UNKNOWN_PHONE } from '#stand-ins/demo-data.ts';
import { captureLogLines, type LogLine } from '#test/support/log-lines.ts';
import {
  type InvokeOptions,
  type SyncHarness,
  startSyncHarness,
} from '#test/support/sync-harness.ts';

let h: SyncHarness;
let limited: SyncHarness;
let userSeq = 0;
const newUser = () => `sms|logged-${++userSeq}`;
const ada = (userId: string) => ({ body: { user_id: userId, phone_number: ADA_LOVELACE.phone } });
const START = Date.parse('2026-11-26T08:15:00.000Z');

beforeAll(async () => {
  h = await startSyncHarness();
  limited = await startSyncHarness({ env: { RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '1' } });
});
afterAll(async () => {
  await h.close();
  await limited.close();
});
afterEach(() => {
  h.crm.answer(undefined);
  h.clock.now = START;
});

/** Invokes once and returns the response with the request lines it logged. */
async function logged(opts: InvokeOptions, harness = h) {
  const { result, lines } = await captureLogLines(() => harness.invoke(opts));
  return { res: result, requests: lines.filter((l) => l.message === 'request') };
}

function expectOneLine(
  requests: LogLine[],
  res: { status: number; headers: Record<string, string> },
) {
  expect(requests).toHaveLength(1);
  const [line] = requests as [LogLine];
  expect(line.http_status).toBe(res.status);
  expect(line.correlation_id).toBe(res.headers['x-request-id']);
  // The metric of its outcome, carried by the line itself (EMF).
  expect(line._aws.CloudWatchMetrics[0]).toMatchObject({
    Namespace: 'Auth0CrmSync',
    Dimensions: [['Outcome']],
  });
  expect(line.Outcome).toBe(line.outcome);
  expect(line.Requests).toBe(1);
  return line;
}

describe('every request ends in exactly one log line with its outcome code', () => {
  it('a sync: synced, with the user, the match key and the CRM latency as a metric', async () => {
    const user = newUser();
    const { res, requests } = await logged(ada(user));
    const line = expectOneLine(requests, res);
    expect(line).toMatchObject({
      level: 'INFO',
      outcome: 'synced',
      user_id: user,
      match_key: 'phone',
      forced: false,
      route: '/v1/sync',
    });
    expect(typeof line.crm_ms).toBe('number');
    expect(line._aws.CloudWatchMetrics[0].Metrics).toEqual([
      { Name: 'Requests', Unit: 'Count' },
      { Name: 'CrmLatency', Unit: 'Milliseconds' },
    ]);
  });

  it('a cached login and a user the CRM does not know', async () => {
    const user = newUser();
    await h.invoke(ada(user));
    const cached = await logged(ada(user));
    expect(expectOneLine(cached.requests, cached.res)).toMatchObject({ outcome: 'cached' });
    const unknown = await logged({ body: { user_id: newUser(), phone_number: UNKNOWN_PHONE } });
    expect(expectOneLine(unknown.requests, unknown.res)).toMatchObject({ outcome: 'not_found' });
  });

  it('a CRM failure: stale or crm_unavailable, with why', async () => {
    const user = newUser();
    await h.invoke(ada(user));
    h.clock.now += 86_400_000;
    h.crm.answer(() => ({ status: 500 }));
    const stale = await logged(ada(user));
    expect(expectOneLine(stale.requests, stale.res)).toMatchObject({
      outcome: 'stale',
      crm_fault: 'http_status',
      user_id: user,
    });
    const down = await logged(ada(newUser()));
    expect(expectOneLine(down.requests, down.res)).toMatchObject({
      outcome: 'crm_unavailable',
      http_status: 503,
      crm_fault: 'http_status',
    });
  });

  const refusals: Array<[string, () => InvokeOptions, number, string]> = [
    ['no signature', () => ({ ...ada(newUser()), secret: null }), 401, 'invalid_signature'],
    ['a wrong secret', () => ({ ...ada(newUser()), secret: 'guess' }), 401, 'invalid_signature'],
    [
      'an old timestamp',
      () => ({ ...ada(newUser()), timestamp: Math.floor(h.clock.now / 1000) - 301 }),
      401,
      'signature_expired',
    ],
    ['bad JSON', () => ({ rawBody: '{"user_id":' }), 400, 'invalid_request'],
    [
      'text/plain',
      () => ({ ...ada(newUser()), headers: { 'content-type': 'text/plain' } }),
      415,
      'unsupported_media_type',
    ],
    ['a body over 16 KiB', () => ({ rawBody: 'x'.repeat(17 * 1024) }), 413, 'payload_too_large'],
    // Not `not_found`: that is the sync status of a user the CRM does not know.
    [
      'an unknown route',
      () => ({ path: `/v1/${ADA_LOVELACE.phone}`, secret: null }),
      404,
      'route_not_found',
    ],
    ['GET on /v1/sync', () => ({ method: 'GET', secret: null }), 405, 'method_not_allowed'],
  ];
  for (const [what, opts, status, code] of refusals) {
    it(`${what}: ${status} ${code}, and no user id (nothing unverified is read)`, async () => {
      const { res, requests } = await logged(opts());
      expect(res.status).toBe(status);
      const line = expectOneLine(requests, res);
      expect(line.outcome).toBe(code);
      expect(line.user_id).toBeUndefined();
      // An unknown path is whatever the caller typed: it is never written down, nor echoed.
      expect(JSON.stringify(line)).not.toContain('/v1/+');
      expect(JSON.stringify(res.body)).not.toContain('/v1/+');
    });
  }

  it('an unreadable phone number: 400 invalid_phone_number, with the (verified) user id', async () => {
    const user = newUser();
    const { res, requests } = await logged({ body: { user_id: user, phone_number: 'call me' } });
    expect(expectOneLine(requests, res)).toMatchObject({
      outcome: 'invalid_phone_number',
      user_id: user,
    });
  });

  it('a user id that is not well-formed is not written down', async () => {
    const { res, requests } = await logged(ada('sms|x\ud800'));
    const line = expectOneLine(requests, res);
    expect(line).toMatchObject({ outcome: 'invalid_request' });
    expect(line.user_id).toBeUndefined();
  });

  it('over the rate: 429 throttled', async () => {
    await limited.invoke(ada(newUser()));
    const { res, requests } = await logged(ada(newUser()), limited);
    expect(expectOneLine(requests, res)).toMatchObject({ outcome: 'throttled', http_status: 429 });
  });

  it('a health check', async () => {
    const { res, requests } = await logged({ method: 'GET', path: '/v1/health', secret: null });
    expect(expectOneLine(requests, res)).toMatchObject({ outcome: 'health', route: '/v1/health' });
  });
});
