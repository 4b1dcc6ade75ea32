import { HttpCrm } from '../adapters/http-crm.ts';
import { HubSpotCrm } from '../adapters/hubspot-crm.ts';
import { SalesforceCrm } from '../adapters/salesforce-crm.ts';
import { parseSalesforceCredentials, SalesforceToken } from '../adapters/salesforce-token.ts';
import type { SyncServiceConfig } from '../config.ts';
import type { CrmLookup } from '../domain/ports.ts';
import type { SecretSource } from './secrets.ts';

export interface CrmAdapter {
  readonly crm: CrmLookup;
  /** Starts reading the CRM's credentials, so that the first login does not wait for them. */
  warm(): void;
}

/**
 * The CRM adapter CRM_KIND names, with its credentials read through the shared secret cache
 * (a rotation lands without a redeploy; a refusal re-reads at once). A new CRM is one adapter
 * file in shared/adapters/, its settings in crm-config.ts, and one case here
 * (docs/architecture.md, "A new CRM adapter").
 */
export function buildCrmAdapter(
  config: SyncServiceConfig,
  secret: SecretSource,
  clock: (() => number) | undefined,
): CrmAdapter {
  const settings = config.crm;
  const common = {
    timeoutMs: config.crmTimeoutMs,
    maxResponseBytes: config.crmMaxResponseBytes,
    ...(clock ? { clock } : {}),
  };
  switch (settings.kind) {
    case 'http': {
      const apiKey = secret(settings.apiKey);
      const crm = new HttpCrm({
        ...common,
        url: settings.url,
        apiKey: () => apiKey.get(),
        onUnauthorized: () => apiKey.invalidate(),
      });
      return { crm, warm: () => void apiKey.get().catch(() => undefined) };
    }
    case 'hubspot': {
      const token = secret(settings.token);
      const crm = new HubSpotCrm({
        ...common,
        url: settings.url,
        token: () => token.get(),
        onUnauthorized: () => token.invalidate(),
        mapping: config.mapping,
        homeCountry: config.defaultPhoneCountry,
      });
      return { crm, warm: () => void token.get().catch(() => undefined) };
    }
    case 'salesforce': {
      const credentials = secret(settings.credentials, parseSalesforceCredentials);
      const token = new SalesforceToken({
        url: settings.url,
        credentials: () => credentials.get(),
        onRefused: () => credentials.invalidate(),
        timeoutMs: config.crmTimeoutMs,
        maxResponseBytes: config.crmMaxResponseBytes,
      });
      const crm = new SalesforceCrm({
        ...common,
        url: settings.url,
        token,
        object: settings.object,
        phoneFields: settings.phoneFields,
        apiVersion: settings.apiVersion,
        mapping: config.mapping,
        homeCountry: config.defaultPhoneCountry,
      });
      // The token too: its POST would otherwise lengthen the first login by a round trip.
      const warm = () =>
        void token.get(AbortSignal.timeout(config.crmTimeoutMs)).catch(() => undefined);
      return { crm, warm };
    }
  }
}
