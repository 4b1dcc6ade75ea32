import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildAction } from '#infra/action-bundle.ts';
import { serveApiGateway } from '#stand-ins/api-gateway.ts';
import {
  loadBuiltAction,
  simulateLogin,
  type TenantUser,
} from '#stand-ins/auth0-action-runtime.ts';
import { generatedCrmId, generatedName, generatedPhone } from '#stand-ins/demo-data.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import { type SyncHarness, startSyncHarness } from '#test/support/sync-harness.ts';

/*
 * How often the built Action writes app_metadata.crm (each write counts against the tenant's
 * Write Users limit) over simulated sync days: the Action's clock (simulateLogin's `now`) and
 * the sync service's clock (the harness's) move together.
 */

const NS = 'https://crm.example.com/';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const USERS = 20;
// Customers 0..USERS-1 of the generated kind, as the CRM knows them.
const contact = (i: number) => ({ id: generatedCrmId(i), name: generatedName(i), tier: 'gold' });
const contacts: Record<string, Record<string, unknown>> = {};
for (let i = 0; i < USERS; i++) contacts[generatedPhone(i)] = contact(i);

let action: ReturnType<typeof loadBuiltAction>;
let stack: SyncHarness;
let gateway: Awaited<ReturnType<typeof serveApiGateway>>;
let calls = 0;
let secrets: Record<string, string>;
let run = 0;
let start: number;
let day1: number;

beforeAll(async () => {
  const built = await buildAction('node_modules/.cache/action-writes/post-login.js');
  action = loadBuiltAction(built.path);
  stack = await startSyncHarness({ contacts });
  // API Gateway stamps the request with the service's clock, as it would in production.
  gateway = await serveApiGateway(async (event, context) => {
    calls++;
    const at = {
      ...event,
      requestContext: { ...event.requestContext, timeEpoch: stack.clock.now },
    };
    return stack.handler(at, context);
  });
  secrets = { SYNC_API_URL: `${gateway.url}/v1/sync`, SYNC_SIGNING_SECRET: TEST_SECRETS.signing };
  start = stack.clock.now;
});
afterAll(async () => {
  await gateway.close();
  await stack.close();
});
afterEach(() => {
  stack.crm.answer(undefined);
  vi.restoreAllMocks();
});

/**
 * Each run has its own users (the stamps live on in the harness's table) and its own week, so
 * that time only moves forward for the service (its circuit breaker, for one, remembers).
 */
function tenant(): TenantUser[] {
  run++;
  day1 = start + run * 7 * DAY;
  return Array.from({ length: USERS }, (_, i) => ({
    user_id: `sms|writes-${run}-${i}`,
    phone_number: generatedPhone(i),
    app_metadata: {},
  }));
}

/** Every user logs in at 08:15 and at 12:15 of `day` (0 = the first): writes and calls. */
async function loginDay(users: TenantUser[], day: number, extra: Record<string, string>) {
  let writes = 0;
  const before = calls;
  for (const hour of [0, 4]) {
    const now = day1 + day * DAY + hour * HOUR;
    stack.clock.now = now;
    for (const user of users) {
      const r = await simulateLogin(action, user, { secrets: { ...secrets, ...extra }, now });
      expect(r.threw).toBeUndefined();
      expect(r.idToken[`${NS}crm_id`]).toBeDefined();
      writes += r.metadataWrites;
    }
  }
  return { writes, calls: calls - before };
}

describe('METADATA_WRITES over two simulated sync days (2 logins a user a day)', () => {
  it('daily: the first login of each day writes, the second makes no call', async () => {
    const users = tenant();
    const policy = { METADATA_WRITES: 'daily' };
    expect(await loginDay(users, 0, policy)).toEqual({ writes: USERS, calls: USERS });
    expect(await loginDay(users, 1, policy)).toEqual({ writes: USERS, calls: USERS });
  });

  it('on_change (the default): day 2 writes nothing; every login asks the sync API', async () => {
    const users = tenant();
    expect(await loginDay(users, 0, {})).toEqual({ writes: USERS, calls: USERS });
    const lookups = stack.crm.requests.length;
    expect(await loginDay(users, 1, {})).toEqual({ writes: 0, calls: 2 * USERS });
    // The calls are answered from the day's stamp: the CRM is asked once per user per day.
    expect(stack.crm.requests.length - lookups).toBe(USERS);
  });

  it('on_change writes on day 2 for exactly the users whose mapped field changed', async () => {
    const users = tenant();
    await loginDay(users, 0, {});
    const renamed = generatedPhone(3);
    stack.crm.answer((request) => {
      const phone = request.body.phoneNumber ?? '';
      const known = contacts[phone];
      if (!known) return { status: 404 };
      return { status: 200, body: phone === renamed ? { ...known, name: 'Ada King' } : known };
    });
    // The renamed user's write carries today's fresh_until: their second login needs no call.
    expect(await loginDay(users, 1, {})).toEqual({ writes: 1, calls: 2 * USERS - 1 });
    const crm = users[3]?.app_metadata.crm as { fields: Record<string, unknown> };
    expect(crm.fields.name).toBe('Ada King');
  });

  it('a CRM outage on day 2: daily rewrites every stale answer, on_change writes nothing', async () => {
    const daily = tenant();
    const onChange = tenant();
    await loginDay(daily, 0, { METADATA_WRITES: 'daily' });
    await loginDay(onChange, 0, {});
    stack.crm.answer(() => ({ status: 500 }));
    // `stale` carries the last known claims with a fresh_until minutes away: a new value each time.
    const outage = await loginDay(daily, 1, { METADATA_WRITES: 'daily' });
    expect(outage.writes).toBe(2 * USERS);
    expect(await loginDay(onChange, 1, {})).toEqual({ writes: 0, calls: 2 * USERS });
  });

  it('an unknown METADATA_WRITES value falls back to on_change and says so without the value', async () => {
    const users = tenant().slice(0, 1);
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...args) => {
      lines.push(args.join(' '));
    });
    const policy = { METADATA_WRITES: 'weekly-secret-typo' };
    await loginDay(users, 0, policy);
    expect(await loginDay(users, 1, policy)).toEqual({ writes: 0, calls: 2 });
    const ignored = lines.filter((l) => l.includes('setting_ignored'));
    expect(ignored.length).toBeGreaterThan(0);
    expect(ignored[0]).toContain('"setting":"METADATA_WRITES"');
    expect(ignored[0]).toContain('"using":"on_change"');
    expect(lines.join('\n')).not.toContain('weekly-secret-typo');
  });
});
