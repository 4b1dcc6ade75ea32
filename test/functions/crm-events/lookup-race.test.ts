import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '#local/stack.ts';
import { type CrmServer, startCrmServer } from '#stand-ins/crm-server.ts';
import { postEvents, signedPost } from '#test/support/crm-events.ts';

/**
 * A change event that arrives while a login is asking the CRM: the CRM's answer may predate the
 * change, so it must not become today's stamp, nor be kept by the Action for the day.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'crm-events-race-'));
let stack: LocalStack;
let crm: CrmServer;
const PHONE = '+15550100020';
const NAME = 'https://crm.example.com/name';

beforeAll(async () => {
  crm = await startCrmServer();
  stack = await startLocalStack(
    { LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'ERROR', CRM_URL: crm.url, CRM_API_KEY: 'race-key' },
    { persist: false, port: 0 },
  );
});
afterAll(async () => {
  await stack?.close();
  await crm?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('a lookup in flight when an event lands is answered but not kept: the next login asks again', async () => {
  let name = 'Before';
  let holdAnswer = false;
  crm.answer(() => ({
    status: 200,
    body: { id: 'C-7001', name },
    ...(holdAnswer ? { delayMs: 400 } : {}),
  }));
  const login = () =>
    signedPost(`${stack.url}/v1/sync`, stack.secret, { user_id: 'sms|race', phone_number: PHONE });
  const event = (id: string) =>
    postEvents(stack.url, stack.webhookSecret, [{ id, type: 'contact.updated', crm_id: 'C-7001' }]);

  expect((await login()).body).toMatchObject({ status: 'synced', claims: { [NAME]: 'Before' } });
  expect((await event('race-1')).status).toBe(202);

  // The next login asks the CRM, which answers "Before" slowly; meanwhile the contact changes.
  holdAnswer = true;
  const asked = crm.requests.length;
  const inFlight = login();
  while (crm.requests.length === asked) await new Promise((r) => setTimeout(r, 5));
  name = 'After';
  holdAnswer = false;
  expect((await event('race-2')).body).toMatchObject({ accepted: 1 });

  const answered = await inFlight;
  expect(answered.body).toMatchObject({ status: 'synced', claims: { [NAME]: 'Before' } });
  // Fresh until now only: the Action keeps nothing of it for the rest of the day.
  const metadata = answered.body.app_metadata as { fresh_until: string };
  expect(Date.parse(metadata.fresh_until)).toBeLessThanOrEqual(Date.now());

  expect((await login()).body).toMatchObject({ status: 'synced', claims: { [NAME]: 'After' } });
});
