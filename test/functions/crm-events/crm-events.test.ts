import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '#local/stack.ts';
import {
  ADA_LOVELACE,
  ALAN_TURING,
  GRACE_HOPPER,
  KATHERINE_JOHNSON,
  UNKNOWN_PHONE,
} from '#stand-ins/demo-data.ts';
import { postEvents, signedPost } from '#test/support/crm-events.ts';

/**
 * POST /v1/crm-events against the local stack as `npm start` runs it: the demo CRM changes a
 * contact, the signed event reaches the stack over HTTP, and the next signed login (the
 * Action's call) gets the change the same sync day.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'crm-events-'));
let stack: LocalStack;
const NAME = 'https://crm.example.com/name';
const CRM_ID = 'https://crm.example.com/crm_id';

beforeAll(async () => {
  stack = await startLocalStack(
    { LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'ERROR' },
    { persist: false, port: 0 },
  );
});
afterAll(async () => {
  await stack?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const login = (userId: string, phone: string) =>
  signedPost(`${stack.url}/v1/sync`, stack.secret, { user_id: userId, phone_number: phone });
const events = (list: Record<string, unknown>[], options?: Parameters<typeof postEvents>[3]) =>
  postEvents(stack.url, stack.webhookSecret, list, options);
const crm = () => {
  if (!stack.demoCrm) throw new Error('the local stack runs the demo CRM');
  return stack.demoCrm;
};
let sequence = 0;
const eventId = () => `evt-${process.pid}-${++sequence}`;

describe('POST /v1/crm-events', () => {
  it('a contact.updated reaches the next login the same day; its redelivery changes nothing', async () => {
    const user = 'sms|events-ada';
    expect((await login(user, ADA_LOVELACE.phone)).body).toMatchObject({ status: 'synced' });
    expect((await login(user, ADA_LOVELACE.phone)).body).toMatchObject({ status: 'cached' });

    crm().change(ADA_LOVELACE.phone, { name: 'Ada King' });
    // Without the event, today's stamp answers: the change waits for tomorrow.
    expect((await login(user, ADA_LOVELACE.phone)).body.claims).toMatchObject({
      [NAME]: ADA_LOVELACE.name,
    });
    const event = { id: eventId(), type: 'contact.updated', crm_id: ADA_LOVELACE.id };
    const answer = await events([event]);
    expect(answer).toEqual({ status: 202, body: { accepted: 1, duplicates: 0, ignored: 0 } });

    const after = await login(user, ADA_LOVELACE.phone);
    expect(after.body).toMatchObject({ status: 'synced', claims: { [NAME]: 'Ada King' } });

    // The same event again: a duplicate, and today's new stamp still answers.
    expect((await events([event])).body).toEqual({ accepted: 0, duplicates: 1, ignored: 0 });
    expect((await login(user, ADA_LOVELACE.phone)).body).toMatchObject({ status: 'cached' });
  });

  it('a contact.deleted removes the link at the next login', async () => {
    const user = 'sms|events-grace';
    expect((await login(user, GRACE_HOPPER.phone)).body.claims).toMatchObject({
      [CRM_ID]: GRACE_HOPPER.id,
    });
    crm().remove(GRACE_HOPPER.id);
    const answer = await events([
      { id: eventId(), type: 'contact.deleted', crm_id: GRACE_HOPPER.id },
    ]);
    expect(answer.body).toMatchObject({ accepted: 1 });
    const after = await login(user, GRACE_HOPPER.phone);
    expect(after.body).toMatchObject({ status: 'not_found', app_metadata: { id: null } });
    expect(after.body.claims).not.toHaveProperty(CRM_ID);
  });

  it("a contact.merged re-links the merged contact's users to the contact kept", async () => {
    const user = 'sms|events-alan';
    expect((await login(user, ALAN_TURING.phone)).body.claims).toMatchObject({
      [CRM_ID]: ALAN_TURING.id,
    });
    crm().merge(ALAN_TURING.id, KATHERINE_JOHNSON.id);
    const merged = {
      id: eventId(),
      type: 'contact.merged',
      crm_id: ALAN_TURING.id,
      merged_into: KATHERINE_JOHNSON.id,
    };
    expect((await events([merged])).body).toMatchObject({ accepted: 1 });
    expect((await login(user, ALAN_TURING.phone)).body.claims).toMatchObject({
      [CRM_ID]: KATHERINE_JOHNSON.id,
      [NAME]: KATHERINE_JOHNSON.name,
    });
  });

  it('finds a not_found user by the phone number a contact.updated carries', async () => {
    const user = 'sms|events-newcomer';
    expect((await login(user, UNKNOWN_PHONE)).body).toMatchObject({ status: 'not_found' });
    crm().put({ id: 'C-2001', name: 'Newly Added', phone: UNKNOWN_PHONE });
    // Within NOT_FOUND_FRESH_SECONDS the "nobody" answer stands: without the event, for an hour.
    expect((await login(user, UNKNOWN_PHONE)).body).toMatchObject({ status: 'cached' });
    const event = {
      id: eventId(),
      type: 'contact.updated',
      crm_id: 'C-2001',
      // As a CRM may write it: spaced, national punctuation. Matched by its keyed hash.
      phone_number: '+1 (555) 010-0404',
    };
    expect((await events([event])).body).toMatchObject({ accepted: 1 });
    expect((await login(user, UNKNOWN_PHONE)).body).toMatchObject({
      status: 'synced',
      claims: { [CRM_ID]: 'C-2001', [NAME]: 'Newly Added' },
    });
  });

  it('refuses a forged or expired signature, and such events have no effect', async () => {
    const user = 'sms|events-forged';
    const phone = '+15550100010';
    crm().put({ id: 'C-3001', name: 'Before', phone });
    await login(user, phone);
    crm().change(phone, { name: 'After' });
    const event = { id: eventId(), type: 'contact.updated', crm_id: 'C-3001' };

    const forged = await postEvents(stack.url, 'not-the-webhook-secret', [event]);
    expect(forged).toMatchObject({ status: 401, body: { error: { code: 'invalid_signature' } } });
    // The sync API's secret is not the webhook's: a caller of one cannot send the other.
    const syncSigned = await postEvents(stack.url, stack.secret, [event]);
    expect(syncSigned.status).toBe(401);
    const old = Math.floor(Date.now() / 1000) - 301;
    const expired = await events([event], { timestamp: old });
    expect(expired).toMatchObject({ status: 401, body: { error: { code: 'signature_expired' } } });
    expect((await login(user, phone)).body).toMatchObject({
      status: 'cached',
      claims: { [NAME]: 'Before' },
    });
    // The event itself was not recorded: sent properly signed, it is handled.
    expect((await events([event])).body).toMatchObject({ accepted: 1, duplicates: 0 });
  });

  it('handles a batch of 100 events, counting unknown types as ignored', async () => {
    const phones = Array.from({ length: 90 }, (_, i) => `+1555020${String(i).padStart(4, '0')}`);
    for (const [i, phone] of phones.entries()) crm().put({ id: `C-4${i}`, name: `P${i}`, phone });
    await Promise.all(phones.map((phone, i) => login(`sms|events-batch-${i}`, phone)));
    for (const [i, phone] of phones.entries()) crm().change(phone, { name: `Q${i}` });
    const batch = [
      ...phones.map((_, i) => ({ id: eventId(), type: 'contact.updated', crm_id: `C-4${i}` })),
      ...Array.from({ length: 10 }, () => ({ id: eventId(), type: 'deal.created', crm_id: 'D-1' })),
    ];
    expect(batch).toHaveLength(100);
    const answer = await events(batch);
    expect(answer).toEqual({ status: 202, body: { accepted: 90, duplicates: 0, ignored: 10 } });
    const after = await Promise.all(
      phones.map((phone, i) => login(`sms|events-batch-${i}`, phone)),
    );
    expect(after.map((a) => a.body.claims?.[NAME as never])).toEqual(phones.map((_, i) => `Q${i}`));
  });

  it('refuses a bad batch with a 4xx that names the event, and records none of it', async () => {
    const good = { id: eventId(), type: 'contact.updated', crm_id: 'C-5001' };
    const bad = await events([good, { id: eventId(), type: 'contact.merged', crm_id: 'C-1' }]);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: 'invalid_request' } });
    expect(JSON.stringify(bad.body)).toContain('events[1].merged_into');
    // The good event of the refused batch was not recorded.
    expect((await events([good])).body).toMatchObject({ accepted: 1 });

    const tooMany = Array.from({ length: 101 }, () => ({ ...good, id: eventId() }));
    expect((await events(tooMany)).status).toBe(400);
    expect((await events([])).status).toBe(400);
    const huge = [{ ...good, id: eventId(), padding: 'x'.repeat(256 * 1024) }];
    expect((await events(huge)).body).toMatchObject({ error: { code: 'payload_too_large' } });
    const text = await events([good], { contentType: 'text/plain' });
    expect(text).toMatchObject({
      status: 415,
      body: { error: { code: 'unsupported_media_type' } },
    });
  });
});
