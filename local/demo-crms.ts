import { DEMO_CRM_API_KEY, type DemoCrm, startDemoCrm } from '#stand-ins/demo-crm.ts';
import { DEMO_HUBSPOT_TOKEN, startHubSpotApi } from '#stand-ins/hubspot/server.ts';
import { DEMO_SALESFORCE_APP, startSalesforceApi } from '#stand-ins/salesforce/server.ts';

/** The local stack's CRM when CRM_URL points nowhere: one speaking CRM_KIND's protocol. */
export interface LocalDemoCrm {
  /** What the demo is, for the banner: "demo CRM", "HubSpot stand-in", "Salesforce stand-in". */
  readonly label: string;
  readonly url: string;
  /** The settings that point the service at it (its URL and demo credentials). */
  readonly settings: Readonly<Record<string, string>>;
  /** The generic demo CRM, whose contacts `npm run demo:crm-change` changes. */
  readonly demoCrm: DemoCrm | undefined;
  close(): Promise<void>;
}

/**
 * What `startLocalDemoCrm` will set, before it starts: lets `npm start` check every other
 * setting first (the URL is a placeholder; the credentials are the demo's).
 */
export function demoCrmSettings(
  env: Readonly<Record<string, string | undefined>>,
): Readonly<Record<string, string>> {
  if (env.CRM_URL) return {};
  const kind = env.CRM_KIND?.trim() || 'http';
  // The named CRMs' URL is a base, without a path (crm-config.ts); the generic one's is not.
  const url = kind === 'http' ? 'http://127.0.0.1/demo-crm' : 'http://127.0.0.1';
  if (kind === 'salesforce') {
    return {
      CRM_URL: url,
      SALESFORCE_CLIENT_ID: DEMO_SALESFORCE_APP.client_id,
      SALESFORCE_CLIENT_SECRET: DEMO_SALESFORCE_APP.client_secret,
    };
  }
  const key = kind === 'hubspot' ? DEMO_HUBSPOT_TOKEN : DEMO_CRM_API_KEY;
  return { CRM_URL: url, CRM_API_KEY: env.CRM_API_KEY || key };
}

/**
 * Starts the demo data set in the CRM_KIND's protocol: the generic demo CRM, or the HubSpot or
 * Salesforce stand-in seeded with the same sample people, their numbers typed as people type
 * them ("555-010-0001", "(555) 010-0002"), so the demo shows the adapter's phone matching.
 */
export async function startLocalDemoCrm(
  env: Readonly<Record<string, string | undefined>>,
): Promise<LocalDemoCrm> {
  const kind = env.CRM_KIND?.trim() || 'http';
  if (kind === 'hubspot') {
    const token = env.CRM_API_KEY || DEMO_HUBSPOT_TOKEN;
    const api = await startHubSpotApi({ demo: true, token });
    return {
      label: 'HubSpot stand-in',
      url: api.url,
      settings: { CRM_URL: api.url, CRM_API_KEY: token },
      demoCrm: undefined,
      close: () => api.close(),
    };
  }
  if (kind === 'salesforce') {
    const api = await startSalesforceApi({ demo: true });
    return {
      label: 'Salesforce stand-in',
      url: api.url,
      settings: {
        CRM_URL: api.url,
        SALESFORCE_CLIENT_ID: DEMO_SALESFORCE_APP.client_id,
        SALESFORCE_CLIENT_SECRET: DEMO_SALESFORCE_APP.client_secret,
      },
      demoCrm: undefined,
      close: () => api.close(),
    };
  }
  const apiKey = env.CRM_API_KEY ?? DEMO_CRM_API_KEY;
  const demoCrm = await startDemoCrm({ apiKey });
  return {
    label: 'demo CRM',
    url: demoCrm.url,
    settings: { CRM_URL: demoCrm.url, CRM_API_KEY: apiKey },
    demoCrm,
    close: () => demoCrm.close(),
  };
}
