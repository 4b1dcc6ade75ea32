import { describe, expect, it } from 'vitest';
import { loadStampReadConfig, loadSyncServiceConfig } from '#shared/config.ts';

/** CRM_KIND and the settings of each named CRM, as the service reads them at start. */
const base = {
  TABLE_NAME: 'crm-sync-stamps',
  SYNC_SIGNING_SECRET: 'test-signing-secret-current-7f3a',
};
const hubspot = { ...base, CRM_KIND: 'hubspot', CRM_API_KEY: 'pat-na1-test-token' };
const salesforce = {
  ...base,
  CRM_KIND: 'salesforce',
  CRM_URL: 'https://acme.my.salesforce.com',
  SALESFORCE_CLIENT_ID: '3MVG9test',
  SALESFORCE_CLIENT_SECRET: 'test-consumer-secret-91c0',
};

const message = (env: Record<string, string | undefined>) => {
  try {
    loadSyncServiceConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  return 'no error';
};

describe('CRM_KIND', () => {
  it('is http by default, with the generic protocol and its claims', () => {
    const config = loadSyncServiceConfig({
      ...base,
      CRM_URL: 'https://crm.test/lookup',
      CRM_API_KEY: 'k',
    });
    expect(config.crm).toEqual({
      kind: 'http',
      url: 'https://crm.test/lookup',
      apiKey: { source: 'inline', value: 'k' },
    });
    expect(config.mapping.fields.map((f) => f.claim)).toEqual(['crm_id', 'name']);
  });

  it('hubspot: the public API by default, the token from CRM_API_KEY, claims from contact properties', () => {
    const config = loadSyncServiceConfig(hubspot);
    expect(config.crm).toEqual({
      kind: 'hubspot',
      url: 'https://api.hubapi.com',
      token: { source: 'inline', value: 'pat-na1-test-token' },
    });
    expect(config.mapping.idPath).toEqual(['hs_object_id']);
    expect(config.mapping.fields.map((f) => [f.claim, f.path.join('.')])).toEqual([
      ['crm_id', 'hs_object_id'],
      ['first_name', 'firstname'],
      ['last_name', 'lastname'],
    ]);
    // The same defaults for the functions that only read stamps: one stamp basis for all.
    expect(loadStampReadConfig({ ...hubspot }).mapping).toEqual(config.mapping);
  });

  it('salesforce: the connected app inline or in one secret, Contact and a current API version', () => {
    const config = loadSyncServiceConfig(salesforce);
    expect(config.crm).toMatchObject({
      kind: 'salesforce',
      url: 'https://acme.my.salesforce.com',
      object: 'Contact',
      apiVersion: '66.0',
      phoneFields: ['Phone', 'MobilePhone'],
    });
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:sf-AbCdEf';
    const fromSecret = loadSyncServiceConfig({
      ...salesforce,
      SALESFORCE_CLIENT_ID: '',
      SALESFORCE_CLIENT_SECRET: '',
      SALESFORCE_CREDENTIALS_SECRET_ARN: arn,
      SALESFORCE_OBJECT: '',
      SALESFORCE_API_VERSION: 'v68.0',
    });
    expect(fromSecret.crm).toMatchObject({
      credentials: { source: 'secrets-manager', secretId: arn },
      object: 'Contact',
      apiVersion: '68.0',
    });
    expect(config.mapping.idPath).toEqual(['Id']);
  });

  it.each([
    [{ ...base, CRM_KIND: 'pipedrive' }, /CRM_KIND: must be one of http, hubspot, salesforce/],
    [{ ...base, CRM_KIND: 'http', CRM_API_KEY: 'k' }, /CRM_URL: must be an http\(s\) URL/],
    [{ ...base, CRM_KIND: 'hubspot' }, /CRM_API_KEY: set CRM_API_KEY or CRM_API_KEY_SECRET_ARN/],
    [
      { ...hubspot, CLAIM_MAP: '{"crm_id":"hs_object_id","city":"address.city"}' },
      /CLAIM_MAP: "address.city" is no HubSpot contact property/,
    ],
    [
      { ...hubspot, CLAIM_MAP: '{"crm_id":"hs_object_id","first":"FirstName"}' },
      /CLAIM_MAP: "FirstName" is no HubSpot contact property: use internal names, flat and lower-case/,
    ],
    [
      { ...hubspot, CRM_URL: 'http://api.hubapi.com' },
      /CRM_URL: must be an https URL: a credential is sent to it/,
    ],
    [{ ...salesforce, CRM_URL: undefined }, /CRM_URL: must be the org's My Domain URL/],
    [
      { ...salesforce, CRM_URL: 'https://login.salesforce.com' },
      /CRM_URL: must be the org's My Domain URL \(https:\/\/<domain>\.my\.salesforce\.com\)/,
    ],
    [
      { ...salesforce, SALESFORCE_CLIENT_SECRET: undefined },
      /SALESFORCE_CLIENT_ID: set SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET, or SALESFORCE_CREDENTIALS_SECRET_ARN/,
    ],
    [
      { ...salesforce, SALESFORCE_OBJECT: "Contact WHERE Name != ''" },
      /SALESFORCE_OBJECT: must be an object API name such as Contact/,
    ],
    [
      { ...salesforce, SALESFORCE_API_VERSION: 'latest' },
      /SALESFORCE_API_VERSION: must be a version such as 66.0/,
    ],
    [
      { ...salesforce, SALESFORCE_PHONE_FIELDS: 'Phone,Mobile Phone' },
      /SALESFORCE_PHONE_FIELDS: must list 1 to 5 field names/,
    ],
    [
      { ...salesforce, CLAIM_MAP: '{"crm_id":"Id","x":"Name) FROM User --"}' },
      /CLAIM_MAP: .* is no Salesforce field path/,
    ],
  ])('refuses %j, naming the setting', (env, expected) => {
    expect(message(env)).toMatch(expected);
  });

  it('never repeats a credential in its message', () => {
    // A setting wrong beside the credentials, and credentials wrong themselves.
    for (const env of [
      { ...salesforce, SALESFORCE_OBJECT: '1bad' },
      { ...salesforce, SALESFORCE_CLIENT_ID: undefined },
      { ...hubspot, CRM_URL: 'http://api.hubapi.com' },
    ]) {
      const text = message(env);
      expect(text).toMatch(/^Invalid configuration: /);
      expect(text).not.toContain(salesforce.SALESFORCE_CLIENT_SECRET);
      expect(text).not.toContain(hubspot.CRM_API_KEY);
    }
  });
});
