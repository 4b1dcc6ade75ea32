import { readFileSync } from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { readStackConfig } from '#infra/config.ts';
import { DEPLOYABLE, synth } from './synth-stack.ts';

/**
 * crmKind at synth: each CRM's settings reach every function that needs them, its credentials
 * live in a secret of their own shape that only the sync and worker functions read, and what the
 * service would refuse at start fails `cdk synth` instead, naming the context key.
 */
function messageOf(context: Record<string, unknown>): string {
  try {
    readStackConfig((key) => ({ auth0Domain: 'acme.eu.auth0.com', ...context })[key]);
    return 'no error';
  } catch (error) {
    return (error as Error).message;
  }
}

const functionsWith = (template: ReturnType<typeof synth>, variable: string) =>
  Object.values(template.findResources('AWS::Lambda::Function'))
    .filter((f) => f.Properties.Environment?.Variables?.[variable] !== undefined)
    .map((f) => f.Properties.Description as string);

describe('crmKind', () => {
  it('hubspot: the public API by default, the token in the CRM key secret, the contact properties as claims', () => {
    const template = synth({ ...DEPLOYABLE, crmUrl: undefined, crmKind: 'hubspot' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('sync'),
      Environment: {
        Variables: Match.objectLike({
          CRM_KIND: 'hubspot',
          CRM_ID_PATH: 'hs_object_id',
          CLAIM_MAP: '{"crm_id":"hs_object_id","first_name":"firstname","last_name":"lastname"}',
          CRM_API_KEY_SECRET_ARN: Match.anyValue(),
        }),
      },
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Description: Match.stringLikeRegexp('HubSpot private app'),
    });
    // The backfill's CRM share stays under HubSpot's search limit, which logins share.
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ CRM_RATE_PER_SECOND: Match.stringLikeRegexp('^0\\.') }),
      },
    });
    expect(template.findOutputs('SetCrmApiKeyCommand').SetCrmApiKeyCommand?.Description).toMatch(
      /HubSpot token/,
    );
  }, 60_000);

  it('salesforce: the connected app in a JSON secret, the object settings, no CRM key secret', () => {
    const template = synth({
      ...DEPLOYABLE,
      crmUrl: 'https://acme.my.salesforce.com',
      crmKind: 'salesforce',
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('sync'),
      Environment: {
        Variables: Match.objectLike({
          CRM_KIND: 'salesforce',
          CRM_URL: 'https://acme.my.salesforce.com',
          SALESFORCE_CREDENTIALS_SECRET_ARN: Match.anyValue(),
          SALESFORCE_OBJECT: 'Contact',
          SALESFORCE_API_VERSION: '66.0',
          SALESFORCE_PHONE_FIELDS: 'Phone,MobilePhone',
          CLAIM_MAP: '{"crm_id":"Id","name":"Name"}',
        }),
      },
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: {
        SecretStringTemplate: '{"client_id":"set-me"}',
        GenerateStringKey: 'client_secret',
      },
    });
    const outputs = template.findOutputs('*');
    expect(outputs.SetSalesforceCredentialsCommand?.Value).toBeDefined();
    expect(outputs.CrmApiKeySecretArn).toBeUndefined();
    expect(Object.keys(template.findResources('AWS::SecretsManager::Secret')).join()).not.toMatch(
      /CrmApiKey/,
    );
    // Read by the two functions that ask the CRM, and no other.
    expect(functionsWith(template, 'SALESFORCE_CREDENTIALS_SECRET_ARN').length).toBe(2);
  }, 60_000);

  it.each([
    [
      { crmKind: 'salesforce' },
      /crmUrl: must be set for crmKind salesforce \(the org's My Domain URL\)/,
    ],
    [{ crmKind: 'http' }, /crmUrl: must be set for crmKind http/],
    [
      { crmKind: 'salesforce', crmUrl: 'https://login.salesforce.com' },
      /crmUrl: must be the org's My Domain URL/,
    ],
    [
      {
        crmKind: 'salesforce',
        crmUrl: 'https://acme.my.salesforce.com',
        salesforceObject: 'Contact;',
      },
      /salesforceObject: must be an object API name/,
    ],
    [
      { crmKind: 'hubspot', claimMap: { crm_id: 'hs_object_id', city: 'address.city' } },
      /claimMap \(or crmIdPath\): "address\.city" is no HubSpot contact property/,
    ],
    [
      { crmKind: 'hubspot', crmRatePerSecond: 5 },
      /crmRatePerSecond: HubSpot's search API takes 5 requests a second/,
    ],
    [
      { crmKind: 'zoho', crmUrl: 'https://crm.acme.test' },
      /crmKind: one of http, hubspot, salesforce/,
    ],
  ])('refuses %j at synth, naming the key', (context, expected) => {
    expect(messageOf(context)).toMatch(expected);
  });
});

describe('crmKind with the shipped cdk.json', () => {
  const shipped = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'))
    .context as Record<string, unknown>;
  const read = (overrides: Record<string, unknown>) => {
    try {
      return readStackConfig((key) => ({ ...shipped, ...overrides })[key]);
    } catch (error) {
      return (error as Error).message;
    }
  };

  it("hubspot: the example lookup endpoint is refused, not sent HubSpot's token; unset, the kind's defaults apply", () => {
    expect(read({ crmKind: 'hubspot' })).toMatch(/crmUrl: must be HubSpot's API base/);
    expect(read({ crmKind: 'hubspot', crmUrl: '' })).toMatchObject({
      crmUrl: undefined,
      crmIdPath: 'hs_object_id',
      claimMap: { crm_id: 'hs_object_id', first_name: 'firstname', last_name: 'lastname' },
      crmRatePerSecond: 3,
    });
  });

  it("hubspot: the generic CRM's claim map is refused (a contact has no id property)", () => {
    expect(
      read({ crmKind: 'hubspot', crmUrl: '', claimMap: { crm_id: 'id', name: 'name' } }),
    ).toMatch(
      /claimMap \(or crmIdPath\): a HubSpot contact has no property "id": its record id is hs_object_id/,
    );
  });

  it("salesforce: the org's URL and the kind's claim map", () => {
    expect(read({ crmKind: 'salesforce', crmUrl: 'https://acme.my.salesforce.com' })).toMatchObject(
      {
        crmIdPath: 'Id',
        claimMap: { crm_id: 'Id', name: 'Name' },
        crmRatePerSecond: 10,
      },
    );
  });
});
