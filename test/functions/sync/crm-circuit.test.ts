import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type HostileCrm, startHostileCrm } from '#stand-ins/crm-server.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { captureLogLines } from '#test/support/log-lines.ts';
import { type SyncHarness, startSyncHarness } from '#test/support/sync-harness.ts';

const ADA = { id: ADA_LOVELACE.id, name: ADA_LOVELACE.name };
const START = Date.parse('2026-11-26T08:15:00.000Z');
let h: SyncHarness;
let crm: HostileCrm;
let userSeq = 0;
const newUser = () => `sms|circuit-${++userSeq}`;
const login = (userId: string) => ({ body: { user_id: userId, phone_number: ADA_LOVELACE.phone } });
const asked = () => crm.requests.length;

beforeAll(async () => {
  crm = await startHostileCrm({ body: ADA });
  h = await startSyncHarness({ crmUrl: crm.url });
});
afterAll(async () => {
  await h.close();
  await crm.close();
});
afterEach(async () => {
  // Close the circuit again for the next test: let any window pass, then one good probe.
  crm.behave({ body: ADA });
  h.clock.now += 3_600_000;
  await h.invoke(login(newUser()));
  h.clock.now = START;
});

describe('a CRM that answers 429 with Retry-After', () => {
  it('holds every login back for that long: no CRM call, answers from what is known', async () => {
    const known = newUser();
    expect((await h.invoke(login(known))).body.status).toBe('synced');
    h.clock.now += 24 * 3600 * 1000; // the next day: the known user's stamp is no longer fresh

    crm.behave({ status: 429, headers: { 'retry-after': '120' } });
    const { lines } = await captureLogLines(() => h.invoke(login(newUser())));
    expect(lines.find((l) => l.message === 'crm circuit opened')).toMatchObject({
      cause: 'retry_after',
      open_ms: 120_000,
      http_status: 429,
      CrmCircuitOpened: 1,
    });

    const before = asked();
    h.commands.clear();
    const newcomer = await h.invoke(login(newUser()));
    expect(newcomer.status).toBe(503);
    const returning = await h.invoke(login(known));
    expect(returning.body).toMatchObject({ status: 'stale', crm_id: ADA_LOVELACE.id });
    h.clock.now += 119_000;
    expect((await h.invoke(login(newUser()))).status).toBe(503);
    expect(asked()).toBe(before);
    // Answered at once: one stamp read each, no lease taken and released.
    expect(Object.fromEntries(h.commands)).toEqual({ GetItemCommand: 3 });
  });

  it('after the window, one login probes; its success closes the circuit', async () => {
    crm.behave({ status: 429, headers: { 'retry-after': '30' } });
    await h.invoke(login(newUser()));
    h.clock.now += 30_000;
    crm.behave({ body: ADA, delayMs: 200 });
    const before = asked();
    const { result, lines } = await captureLogLines(() =>
      Promise.all(Array.from({ length: 5 }, () => h.invoke(login(newUser())))),
    );
    // The probe asked the CRM; the logins that came while it was out did not.
    expect(asked()).toBe(before + 1);
    expect(result.map((r) => r.status).sort()).toEqual([200, 503, 503, 503, 503]);
    expect(lines.find((l) => l.message === 'crm circuit closed')).toMatchObject({
      was_open_ms: 30_000,
      CrmCircuitClosed: 1,
    });
    const after = await h.invoke(login(newUser()));
    expect(after.body.status).toBe('synced');
    expect(asked()).toBe(before + 2);
  });

  it('a Retry-After of a day is capped (10 minutes by default)', async () => {
    crm.behave({ status: 503, headers: { 'retry-after': '86400' } });
    await h.invoke(login(newUser()));
    crm.behave({ body: ADA });
    h.clock.now += 599_000;
    const before = asked();
    expect((await h.invoke(login(newUser()))).status).toBe(503);
    expect(asked()).toBe(before);
    h.clock.now += 1_000;
    expect((await h.invoke(login(newUser()))).body.status).toBe('synced');
    expect(asked()).toBe(before + 1);
  });
});

describe('a CRM that keeps failing', () => {
  it('five failures in a row open the circuit for the cooldown; a failed probe keeps it open', async () => {
    crm.behave({ status: 500 });
    const before = asked();
    const { lines } = await captureLogLines(async () => {
      for (let i = 0; i < 5; i++) await h.invoke(login(newUser()));
    });
    expect(asked()).toBe(before + 5);
    expect(lines.filter((l) => l.message === 'crm circuit opened')).toMatchObject([
      { cause: 'failures', open_ms: 30_000 },
    ]);
    expect((await h.invoke(login(newUser()))).status).toBe(503);
    expect(asked()).toBe(before + 5);

    h.clock.now += 30_000;
    await h.invoke(login(newUser())); // the probe, which fails
    expect(asked()).toBe(before + 6);
    h.clock.now += 29_000;
    await h.invoke(login(newUser()));
    expect(asked()).toBe(before + 6);
  });

  it('a success in between resets the count', async () => {
    const before = asked();
    for (let round = 0; round < 3; round++) {
      crm.behave({ status: 500 });
      for (let i = 0; i < 4; i++) await h.invoke(login(newUser()));
      crm.behave({ body: ADA });
      await h.invoke(login(newUser()));
    }
    expect(asked()).toBe(before + 15);
  });
});
