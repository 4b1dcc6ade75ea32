import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seededUser, seededUserId } from '#local/backfill/seeded-tenant.ts';
import { type LocalBackfillStack, startLocalBackfillStack } from '#local/backfill/stack.ts';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { generatedPhone } from '#stand-ins/demo-data.ts';
import { DEMO_HUBSPOT_TOKEN, type HubSpotApi, startHubSpotApi } from '#stand-ins/hubspot/server.ts';
import {
  DEMO_SALESFORCE_APP,
  type SalesforceApi,
  startSalesforceApi,
} from '#stand-ins/salesforce/server.ts';

/**
 * The daily backfill with CRM_KIND=salesforce and CRM_KIND=hubspot: the shipped worker, through
 * the named adapters, against their stand-ins and the Management API stand-in. Nothing but the
 * adapter changes: one lookup per user, one write per changed profile, the CRM's numbers as
 * people typed them, and a user whose number two contacts share left unlinked.
 */
const USERS = 12;
/** Customer i's number as someone typed it: `(555) 000-0007`. */
const typed = (i: number) => {
  const digits = generatedPhone(i).slice(2);
  return `(${digits.slice(0, 3)}) ${digits.slice(3, 6)}-${digits.slice(6)}`;
};

let api: ManagementApi;
let stack: LocalBackfillStack | undefined;
beforeEach(async () => {
  api = await startManagementApi();
  api.seedUsers(USERS, (i) => seededUser(i));
});
afterEach(async () => {
  await stack?.close();
  stack = undefined;
  await api.close();
});

async function backfill(url: string, env: Record<string, string>, crmRatePerSecond = 100_000) {
  stack = await startLocalBackfillStack({
    api,
    crm: { url, apiKey: DEMO_HUBSPOT_TOKEN },
    crmRatePerSecond,
    auth0WritesPerSecond: 100_000,
    env: { CRM_TIMEOUT_MS: '10000', ACTION_TIMEOUT_MS: '15000', ...env },
  });
  return stack.run({ location: await stack.exportTenant(), workers: 2 });
}

const crmOf = (i: number) =>
  api.users.get(seededUserId(i))?.app_metadata.crm as
    | { id: string | null; fields: Record<string, unknown> }
    | undefined;

describe('the backfill through a named CRM', () => {
  let salesforce: SalesforceApi;
  let hubspot: HubSpotApi;
  afterEach(async () => {
    await salesforce?.close();
    await hubspot?.close();
  });

  it('salesforce: every user linked to their Contact by a number typed "(555) 000-0007"; a shared number links nobody', async () => {
    salesforce = await startSalesforceApi();
    const ids = Array.from({ length: USERS }, (_, i) =>
      salesforce.org.addContact({ FirstName: 'Customer', LastName: String(i), Phone: typed(i) }),
    );
    salesforce.org.addContact({ LastName: 'Shares 3', MobilePhone: typed(3) });
    const run = await backfill(salesforce.url, {
      CRM_KIND: 'salesforce',
      SALESFORCE_CLIENT_ID: DEMO_SALESFORCE_APP.client_id,
      SALESFORCE_CLIENT_SECRET: DEMO_SALESFORCE_APP.client_secret,
    });
    expect(run.counts).toMatchObject({
      checked: USERS,
      changed: USERS - 1,
      notFound: 1,
      failed: 0,
    });
    expect(crmOf(7)).toMatchObject({ id: ids[7], fields: { crm_id: ids[7], name: 'Customer 7' } });
    expect(crmOf(3)).toMatchObject({ id: null, fields: {} });
    // One query a user, and one token for the worker (it kept it for the whole run).
    const queries = salesforce.requests.filter((r) => r.soql !== undefined);
    expect(queries).toHaveLength(USERS);
    expect(salesforce.tokensIssued()).toBe(1);
  });

  it('hubspot: the same through the contacts search', async () => {
    hubspot = await startHubSpotApi();
    for (let i = 0; i < USERS; i++) {
      hubspot.contacts.create({ firstname: 'Customer', lastname: String(i), phone: typed(i) });
    }
    // At the stack's default budget for HubSpot, 3 a second, under the search API's 5 (the
    // stand-in refuses a sixth search within a second, as HubSpot does): no 429, no retry.
    const run = await backfill(hubspot.url, { CRM_KIND: 'hubspot' }, 3);
    expect(run.counts).toMatchObject({ checked: USERS, changed: USERS, failed: 0 });
    expect(crmOf(7)?.fields).toEqual({
      crm_id: expect.any(String),
      first_name: 'Customer',
      last_name: '7',
    });
    expect(hubspot.searches).toHaveLength(USERS);
  });
});
