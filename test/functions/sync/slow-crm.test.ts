import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CrmServer, startCrmServer } from '#stand-ins/crm-server.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { ADA, CONTACTS, type SyncHarness, startSyncHarness } from '#test/support/sync-harness.ts';

let crm: CrmServer;

beforeAll(async () => {
  crm = await startCrmServer(CONTACTS);
});
afterAll(() => crm.close());

function tally(
  results: Array<{ status: number; body: { status?: string; error?: { code: string } } }>,
) {
  const byOutcome = new Map<string, number>();
  for (const r of results) {
    const key = `${r.status} ${r.body.status ?? r.body.error?.code}`;
    byOutcome.set(key, (byOutcome.get(key) ?? 0) + 1);
  }
  return Object.fromEntries(byOutcome);
}

describe('a slow CRM that still answers within its timeout', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    // The shipped defaults: CRM_TIMEOUT_MS 2500 inside the Action's 3000.
    h = await startSyncHarness({ crm, realTime: true });
  });
  afterAll(() => h.close());

  it('200 first logins of one user at once (as on npm start): one CRM call, all get its answer', async () => {
    // 2.2–2.4 s: inside CRM_TIMEOUT_MS, near its end, as a struggling CRM answers.
    crm.answer(() => ({ status: 200, body: ADA, delayMs: 2_200 + Math.random() * 200 }));
    const body = { user_id: 'sms|slow-crm', phone_number: ADA_LOVELACE.phone };
    const before = crm.requests.length;
    const results = await Promise.all(Array.from({ length: 200 }, () => h.invoke({ body })));
    expect(crm.requests.length - before).toBe(1);
    expect(tally(results)).toEqual({ '200 synced': 1, '200 cached': 199 });
    crm.answer(undefined);
  });
});

describe('a CRM timeout longer than the default, inside a longer Action timeout', () => {
  let h: SyncHarness;
  beforeAll(async () => {
    h = await startSyncHarness({
      crm,
      realTime: true,
      env: { CRM_TIMEOUT_MS: '4000', ACTION_TIMEOUT_MS: '6000' },
    });
  });
  afterAll(() => h.close());

  it('waiters on other instances wait as long as the Action does, and get the answer', async () => {
    crm.answer(() => ({ status: 200, body: ADA, delayMs: 3_500 }));
    const instances = [h.instance(), h.instance(), h.instance()];
    const body = { user_id: 'sms|slow-crm-long', phone_number: ADA_LOVELACE.phone };
    const before = crm.requests.length;
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (instances[i % 3] as SyncHarness).invoke({ body })),
    );
    expect(crm.requests.length - before).toBe(1);
    expect(tally(results)).toEqual({ '200 synced': 1, '200 cached': 5 });
    crm.answer(undefined);
  });
});
