import { Logger } from '@aws-lambda-powertools/logger';
import { buildSyncApi } from '#functions/sync/build.ts';
import { buildAction } from '#infra/action-bundle.ts';
import { loadSyncServiceConfig } from '#shared/config.ts';
import { serveApiGateway } from '#stand-ins/api-gateway.ts';
import {
  loadBuiltAction,
  simulateLogin,
  type TenantUser,
} from '#stand-ins/auth0-action-runtime.ts';
import { startCrmServer } from '#stand-ins/crm-server.ts';
import { generatedCrmId, generatedName, generatedPhone } from '#stand-ins/demo-data.ts';
import { startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { row, summarise } from './stats.ts';

const SECRET = 'bench-signing-secret';
const CRM_KEY = 'bench-crm-key';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Logins of a user on a day, at these hours after 08:15 UTC (the sync day is the UTC day).
const LOGIN_HOURS = [0, 4];
const POLICIES = ['daily', 'on_change'] as const;
type Policy = (typeof POLICIES)[number];
// Share of contacts whose mapped field (name) changes in the CRM before day 3.
const CHANGED_SHARE = 0.02;
const DAU = 1_000_000;
// Auth0's Write Users limit on Essentials/Professional: 200 a minute (burst 20).
const WRITE_USERS_PER_DAY = 200 * 60 * 24;

interface Day {
  logins: number;
  writes: number;
  calls: number;
  lookups: number;
  times: number[];
}

/**
 * The tenant's Write Users spend of the login path: the built Action run by the Auth0 runtime
 * stand-in against the real sync API (dynalite, a CRM on a socket), `users` users logging in
 * twice a day for three simulated days per METADATA_WRITES policy. Day 1 is everyone's first
 * sync, day 2 has unchanged CRM data, before day 3 a few contacts change. The Action's clock
 * (simulateLogin's `now`) and the service's clock move together.
 */
export async function benchLoginWrites(users: number): Promise<string[]> {
  const contacts: Record<string, Record<string, unknown>> = {};
  for (let i = 0; i < users; i++) {
    contacts[generatedPhone(i)] = { id: generatedCrmId(i), name: generatedName(i), tier: 'gold' };
  }
  const crm = await startCrmServer(contacts);
  const dynamo = await startEmbeddedDynamoDb();
  const dynamodb = dynamo.client();
  await ensureStampTable(dynamodb, 'bench-login-writes');
  const clock = { now: Date.parse('2026-11-26T08:15:00.000Z') };
  const handler = buildSyncApi(
    loadSyncServiceConfig({
      TABLE_NAME: 'bench-login-writes',
      SYNC_SIGNING_SECRET: SECRET,
      CRM_URL: crm.url,
      CRM_API_KEY: CRM_KEY,
    }),
    { dynamodb, clock: () => clock.now, logger: new Logger({ logLevel: 'ERROR' }) },
  );
  let calls = 0;
  const api = await serveApiGateway((event, context) => {
    calls++;
    // API Gateway stamps the request on the service's clock.
    return handler(
      { ...event, requestContext: { ...event.requestContext, timeEpoch: clock.now } },
      context,
    );
  });
  const { path } = await buildAction('node_modules/.cache/bench-login-writes/post-login.js');
  const action = loadBuiltAction(path);
  const silence = console.log;
  console.log = () => {};
  const results = new Map<Policy, Day[]>();
  try {
    for (const [p, policy] of POLICIES.entries()) {
      crm.answer(undefined);
      const tenant: TenantUser[] = Array.from({ length: users }, (_, i) => ({
        user_id: `sms|bench-${policy}-${i}`,
        phone_number: generatedPhone(i),
        app_metadata: {},
      }));
      const secrets = {
        SYNC_API_URL: `${api.url}/v1/sync`,
        SYNC_SIGNING_SECRET: SECRET,
        METADATA_WRITES: policy,
      };
      const days: Day[] = [];
      // Each policy gets its own week on the service's clock, which only moves forward.
      const week = clock.now + p * 7 * DAY;
      for (let d = 0; d < 3; d++) {
        if (d === 2) crm.answer(renamed(contacts, Math.ceil(users * CHANGED_SHARE)));
        const day: Day = { logins: 0, writes: 0, calls: 0, lookups: 0, times: [] };
        const [callsBefore, lookupsBefore] = [calls, crm.requests.length];
        for (const hour of LOGIN_HOURS) {
          const now = week + d * DAY + hour * HOUR;
          clock.now = now;
          for (const user of tenant) {
            const started = performance.now();
            const r = await simulateLogin(action, user, { secrets, now });
            day.times.push(performance.now() - started);
            if (r.threw || r.denied) throw new Error(`bench login failed under ${policy}`);
            day.logins++;
            day.writes += r.metadataWrites;
          }
        }
        day.calls = calls - callsBefore;
        day.lookups = crm.requests.length - lookupsBefore;
        days.push(day);
      }
      results.set(policy, days);
    }
  } finally {
    console.log = silence;
    await api.close();
    dynamodb.destroy();
    await dynamo.close();
    await crm.close();
  }
  return report(users, results);
}

/** The CRM's answers from now on: the first `count` contacts renamed. */
function renamed(contacts: Record<string, Record<string, unknown>>, count: number) {
  const changed = new Set(Array.from({ length: count }, (_, i) => generatedPhone(i)));
  return (request: { body: { phoneNumber?: string } }) => {
    const phone = request.body.phoneNumber ?? '';
    const known = contacts[phone];
    if (!known) return { status: 404 };
    return {
      status: 200,
      body: changed.has(phone) ? { ...known, name: `${known.name} (renamed)` } : known,
    };
  };
}

const perThousand = (n: number, logins: number) => ((n * 1000) / logins).toFixed(0).padStart(6);
const days3 = ' day 1 day 2 day 3';

function report(users: number, results: Map<Policy, Day[]>): string[] {
  const lines = [
    `## Login-time metadata writes (METADATA_WRITES): built Action vs the sync API, ${users} users × ${LOGIN_HOURS.length} logins a day`,
    `day 1: first sync; day 2: unchanged CRM data; day 3: ${CHANGED_SHARE * 100}% of contacts renamed`,
    'per 1,000 logins  | metadata writes   | sync API calls    | CRM lookups',
    `                  |${days3} |${days3} |${days3}`,
  ];
  for (const [policy, days] of results) {
    const col = (pick: (d: Day) => number) =>
      days.map((d) => perThousand(pick(d), d.logins)).join('');
    lines.push(
      `${policy.padEnd(18)}|${col((d) => d.writes)} |${col((d) => d.calls)} |${col((d) => d.lookups)}`,
    );
  }
  const daily = results.get('daily');
  const onChange = results.get('on_change');
  if (!daily?.[1] || !onChange?.[1] || !onChange[2]) return lines;
  for (const [policy, days] of results) {
    lines.push(row(`login time, day 2, ${policy}`, summarise(days[1]?.times ?? [])));
  }
  const perUser = (day: Day, n: number) => (n / day.logins) * LOGIN_HOURS.length;
  const project = (label: string, day: Day) => {
    const writes = perUser(day, day.writes) * DAU;
    const calls = perUser(day, day.calls) * DAU;
    return `${label.padEnd(38)} ${fmt(writes)} writes/day (${(writes / 86_400).toFixed(1)}/s avg)  ${fmt(calls)} sync calls/day (${(calls / 86_400).toFixed(1)}/s avg)`;
  };
  const ratio = (a: number, b: number) => (b === 0 ? 'n/a' : (a / b).toFixed(2));
  lines.push(
    `ratio on_change / daily (baseline), day 2: writes ${ratio(onChange[1].writes, daily[1].writes)}  sync calls ${ratio(onChange[1].calls, daily[1].calls)}`,
    `projection at ${fmt(DAU)} daily active users, ${LOGIN_HOURS.length} logins each (Write Users on Essentials/Professional: ${fmt(WRITE_USERS_PER_DAY)}/day at an even 200/min):`,
    project('  daily, any day', daily[1]),
    project('  on_change, unchanged CRM data', onChange[1]),
    project(`  on_change, ${CHANGED_SHARE * 100}% of contacts changed`, onChange[2]),
  );
  return lines;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
