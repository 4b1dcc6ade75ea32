import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADA_LOVELACE, GRACE_HOPPER } from '#stand-ins/demo-data.ts';
import { captureLogLines } from '#test/support/log-lines.ts';
import { type SyncHarness, startSyncHarness } from '#test/support/sync-harness.ts';

let h: SyncHarness;
let userSeq = 0;
const newUser = () => `sms|replay-${++userSeq}`;
const START = Date.parse('2026-11-26T08:15:00.000Z');
const seconds = () => Math.floor(h.clock.now / 1000);
const asked = () => h.crm.requests.length;
const forced = (userId: string, timestamp?: number) => ({
  body: { user_id: userId, phone_number: ADA_LOVELACE.phone, force: true },
  ...(timestamp === undefined ? {} : { timestamp }),
});

beforeAll(async () => {
  h = await startSyncHarness();
});
afterAll(() => h.close());

describe('a captured forced request, replayed', () => {
  it('asks the CRM once: every replay within the signature window is answered from the stamp', async () => {
    h.clock.now = START;
    const user = newUser();
    const signedAt = seconds();
    const before = asked();
    expect((await h.invoke(forced(user, signedAt))).body.status).toBe('synced');
    // Past the forced-lookup minute, the signature (five minutes) is still good: only the
    // ledger of used signatures stands between a replay and the CRM.
    for (const later of [61_000, 120_000, 240_000]) {
      h.clock.now = START + later;
      const { result, lines } = await captureLogLines(() =>
        Promise.all(Array.from({ length: 4 }, () => h.invoke(forced(user, signedAt)))),
      );
      expect(result.map((r) => [r.status, r.body.status])).toEqual(Array(4).fill([200, 'cached']));
      const requests = lines.filter((l) => l.message === 'request');
      expect(requests.map((l) => [l.outcome, l.forced, l.replayed])).toEqual(
        Array(4).fill(['cached', false, true]),
      );
    }
    expect(asked()).toBe(before + 1);
    // The same bytes after the window are expired, not replayed.
    h.clock.now = START + 301_000;
    expect((await h.invoke(forced(user, signedAt))).body.error.code).toBe('signature_expired');
    // A new forced request, signed now, is a new refresh.
    expect((await h.invoke(forced(user))).body.status).toBe('synced');
    expect(asked()).toBe(before + 2);
  });
});

describe('forced requests of one user, each signed anew', () => {
  it('ask the CRM at most once a minute; the others get the fresh stamp', async () => {
    h.clock.now = START;
    const user = newUser();
    const before = asked();
    const statuses: string[] = [];
    for (let i = 0; i < 10; i++) {
      statuses.push((await h.invoke(forced(user))).body.status);
      h.clock.now += 5_000;
    }
    expect(statuses).toEqual(['synced', ...Array(9).fill('cached')]);
    expect(asked()).toBe(before + 1);
    h.clock.now = START + 61_000;
    expect((await h.invoke(forced(user))).body.status).toBe('synced');
    expect(asked()).toBe(before + 2);
  });

  it('a forced request with a new phone number is looked up at once', async () => {
    h.clock.now = START;
    const user = newUser();
    await h.invoke(forced(user));
    h.clock.now += 1_000;
    const changed = await h.invoke({
      body: { user_id: user, phone_number: GRACE_HOPPER.phone, force: true },
    });
    expect(changed.body).toMatchObject({ status: 'synced', crm_id: GRACE_HOPPER.id });
  });
});

describe('forced requests while the CRM fails', () => {
  it("still ask it at most once a minute, and today's stamp answers the rest", async () => {
    h.clock.now = START;
    const user = newUser();
    await h.invoke({ body: { user_id: user, phone_number: ADA_LOVELACE.phone } });
    h.clock.now += 120_000; // the day's stamp is two minutes old: a forced refresh is due
    h.crm.answer(() => ({ status: 500 }));
    const before = asked();
    const statuses: string[] = [];
    for (let i = 0; i < 10; i++) {
      statuses.push((await h.invoke(forced(user))).body.status);
      h.clock.now += 3_000;
    }
    h.crm.answer(undefined);
    expect(asked()).toBe(before + 1);
    expect(statuses).toEqual(['stale', ...Array(9).fill('cached')]);
  });
});
