import { HttpCrm } from '#shared/adapters/http-crm.ts';
import { HubSpotCrm } from '#shared/adapters/hubspot-crm.ts';
import { SalesforceCrm } from '#shared/adapters/salesforce-crm.ts';
import { SalesforceToken } from '#shared/adapters/salesforce-token.ts';
import { CRM_DEFAULTS } from '#shared/crm-config.ts';
import { buildClaimMapping } from '#shared/domain/claims.ts';
import type { CrmLookup } from '#shared/domain/ports.ts';
import { DEMO_CRM_API_KEY, startDemoCrm } from '#stand-ins/demo-crm.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { DEMO_HUBSPOT_TOKEN, startHubSpotApi } from '#stand-ins/hubspot/server.ts';
import { DEMO_SALESFORCE_APP, startSalesforceApi } from '#stand-ins/salesforce/server.ts';
import { row, summarise } from './stats.ts';

/**
 * `npm run bench -- --only=crms`: one phone lookup of Ada, `n` times in a row, through each
 * adapter against its stand-in on loopback (the generic demo CRM, HubSpot's search, a Salesforce
 * org's SOQL query), with the requests each lookup sent. The baseline is the generic adapter in
 * the same run: what a named adapter adds is its own work (building the search or the query,
 * reading every candidate's number back) and its CRM's answer, not the network.
 */
export async function benchNamedCrms(n: number): Promise<string[]> {
  const key = { kind: 'phone', e164: ADA_LOVELACE.phone } as const;
  const mappingOf = (kind: 'http' | 'hubspot' | 'salesforce') =>
    buildClaimMapping({
      namespace: 'https://crm.example.com/',
      idPath: CRM_DEFAULTS[kind].idPath,
      fields: { ...CRM_DEFAULTS[kind].fields },
      maxValueLength: 256,
    });
  const limits = { timeoutMs: 2_500, maxResponseBytes: 1024 * 1024 };
  const demo = await startDemoCrm({ apiKey: DEMO_CRM_API_KEY });
  const hubspot = await startHubSpotApi({ demo: true });
  const salesforce = await startSalesforceApi({ demo: true, dailyApiLimit: 10 * n });
  // HubSpot's 5 searches a second would hold the run to 5 lookups a second: the stand-in is
  // asked to be an account with the limit out of the way, its other behaviour unchanged.
  let hubspotNow = Date.now();
  const hubspotFast = await startHubSpotApi({ demo: true, clock: () => (hubspotNow += 1_000) });
  await hubspot.close();
  const adapters: Array<{ label: string; crm: CrmLookup; requests: () => number }> = [
    {
      label: 'generic HTTP (baseline)',
      crm: new HttpCrm({ ...limits, url: demo.url, apiKey: async () => DEMO_CRM_API_KEY }),
      requests: () => demo.lookups(),
    },
    {
      label: 'HubSpot (contacts search)',
      crm: new HubSpotCrm({
        ...limits,
        url: hubspotFast.url,
        token: async () => DEMO_HUBSPOT_TOKEN,
        mapping: mappingOf('hubspot'),
      }),
      requests: () => hubspotFast.searches.length,
    },
    {
      label: 'Salesforce (SOQL query)',
      crm: new SalesforceCrm({
        ...limits,
        url: salesforce.url,
        token: new SalesforceToken({
          url: salesforce.url,
          credentials: async () => DEMO_SALESFORCE_APP,
          ...limits,
        }),
        object: 'Contact',
        phoneFields: ['Phone', 'MobilePhone'],
        apiVersion: '66.0',
        mapping: mappingOf('salesforce'),
      }),
      requests: () => salesforce.requests.length,
    },
  ];
  const lines = [
    `Named CRM adapters: one phone lookup, ${n} in a row per adapter, loopback stand-ins`,
  ];
  let baseline: number | undefined;
  try {
    for (const { label, crm, requests } of adapters) {
      const first = performance.now();
      await crm.find(key);
      const firstMs = performance.now() - first;
      for (let i = 0; i < 50; i++) await crm.find(key);
      const before = requests();
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        const record = await crm.find(key);
        times.push(performance.now() - started);
        if (record === null) throw new Error(`${label}: Ada not found`);
      }
      const summary = summarise(times);
      baseline ??= summary.p50;
      const perLookup = (requests() - before) / n;
      lines.push(
        `${row(`  ${label}`, summary)}  ×${(summary.p50 / baseline).toFixed(2)} at p50  ${perLookup} request(s) a lookup  first lookup ${firstMs.toFixed(1)} ms`,
      );
    }
  } finally {
    await Promise.all([demo.close(), hubspotFast.close(), salesforce.close()]);
  }
  lines.push(
    '  (first lookup: the connection, and for Salesforce its client-credentials token, which the sync Lambda asks for at init)',
  );
  return lines;
}
