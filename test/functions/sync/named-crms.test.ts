import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '#local/stack.ts';
import { sign } from '#shared/domain/signature.ts';
import { ADA_LOVELACE, GRACE_HOPPER } from '#stand-ins/demo-data.ts';
import { DEMO_HUBSPOT_TOKEN, type HubSpotApi, startHubSpotApi } from '#stand-ins/hubspot/server.ts';
import {
  DEMO_SALESFORCE_APP,
  type SalesforceApi,
  startSalesforceApi,
} from '#stand-ins/salesforce/server.ts';
import { signedPost } from '#test/support/crm-events.ts';
import { captureLogLines } from '#test/support/log-lines.ts';

/**
 * The sync API with CRM_KIND=hubspot and CRM_KIND=salesforce, as `npm start` runs it, against
 * each vendor's stand-in at CRM_URL: the login's claims come from the named adapter, and two
 * CRM records for one number are the defined outcome, `ambiguous_match`, never a pick.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'named-crms-'));
const NS = 'https://crm.example.com/';
let hubspot: HubSpotApi;
let salesforce: SalesforceApi;
const stacks: LocalStack[] = [];

beforeAll(async () => {
  hubspot = await startHubSpotApi({ demo: true });
  salesforce = await startSalesforceApi({ demo: true });
});
afterAll(async () => {
  for (const stack of stacks) await stack.close();
  await hubspot.close();
  await salesforce.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function stackFor(env: Record<string, string>): Promise<LocalStack> {
  const stack = await startLocalStack(
    { LOCAL_DATA_DIR: dataDir, LOG_LEVEL: 'INFO', ...env },
    { persist: false, port: 0 },
  );
  stacks.push(stack);
  return stack;
}

const login = (stack: LocalStack, userId: string, phone: string) =>
  signedPost(`${stack.url}/v1/sync`, stack.secret, { user_id: userId, phone_number: phone });

async function explain(stack: LocalStack, userId: string) {
  const timestamp = Math.floor(Date.now() / 1000);
  const response = await fetch(`${stack.url}/v1/users/${encodeURIComponent(userId)}`, {
    headers: { 'x-sync-signature': sign(stack.secret, timestamp, '') },
  });
  return (await response.json()) as Record<string, unknown>;
}

const kinds = [
  {
    kind: 'hubspot',
    env: () => ({ CRM_KIND: 'hubspot', CRM_URL: hubspot.url, CRM_API_KEY: DEMO_HUBSPOT_TOKEN }),
    claims: { [`${NS}first_name`]: 'Ada', [`${NS}last_name`]: 'Lovelace' },
    duplicate: () =>
      void hubspot.contacts.create({
        firstname: 'Grace',
        lastname: 'Twin',
        mobilephone: '555.010.0002',
      }),
  },
  {
    kind: 'salesforce',
    env: () => ({
      CRM_KIND: 'salesforce',
      CRM_URL: salesforce.url,
      SALESFORCE_CLIENT_ID: DEMO_SALESFORCE_APP.client_id,
      SALESFORCE_CLIENT_SECRET: DEMO_SALESFORCE_APP.client_secret,
    }),
    claims: { [`${NS}name`]: 'Ada Lovelace' },
    duplicate: () =>
      void salesforce.org.addContact({ LastName: 'Twin', MobilePhone: '(555) 010-0002' }),
  },
] as const;

describe.each(kinds)('CRM_KIND=$kind', ({ kind, env, claims, duplicate }) => {
  it('a login typed "+1 (555) 010-0001" gets the claims of the contact stored as typed in the CRM', async () => {
    const stack = await stackFor(env());
    const answer = await login(stack, `sms|${kind}-ada`, '+1 (555) 010-0001');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'synced', claims });
    expect((answer.body.claims as Record<string, unknown>)[`${NS}crm_id`]).toEqual(
      expect.any(String),
    );
    expect((await login(stack, `sms|${kind}-ada`, ADA_LOVELACE.phone)).body).toMatchObject({
      status: 'cached',
      claims,
    });
  });

  it('two contacts with one number: not_found for the Action, ambiguous_match in the log and the explanation', async () => {
    const stack = await stackFor(env());
    duplicate();
    const user = `sms|${kind}-grace`;
    const { result, lines } = await captureLogLines(() => login(stack, user, GRACE_HOPPER.phone));
    expect(result.body).toMatchObject({ status: 'not_found', claims: {} });
    const request = lines.find((l) => l.message === 'request');
    expect(request).toMatchObject({ outcome: 'ambiguous_match', crm_matches: 2, http_status: 200 });
    expect(request?.Outcome).toBe('ambiguous_match');
    expect(await explain(stack, user)).toMatchObject({
      status: 'not_found',
      crm_id: null,
      ambiguous_matches: 2,
    });
    // The next login within the not-found hour is answered from the stamp, without asking.
    const again = await captureLogLines(() => login(stack, user, GRACE_HOPPER.phone));
    expect(again.lines.find((l) => l.message === 'request')).toMatchObject({ outcome: 'cached' });
  });
});
