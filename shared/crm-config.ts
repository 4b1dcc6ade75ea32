import * as z from 'zod/mini';
import type { ClaimMapping } from './domain/claims.ts';

/** Which CRM the service asks: CRM_KIND (README, "Choosing a CRM"). */
export const CRM_KINDS = ['http', 'hubspot', 'salesforce'] as const;
export type CrmKind = (typeof CRM_KINDS)[number];

/** A secret given inline (local stack, tests) or by Secrets Manager id (deployed). */
export type SecretSetting =
  | { readonly source: 'inline'; readonly value: string }
  | { readonly source: 'secrets-manager'; readonly secretId: string };

/** How each kind finds a user's record, by kind (crm-config's settings, README). */
export type CrmSettings =
  | {
      readonly kind: 'http';
      readonly url: string;
      /** CRM_API_KEY: sent as `x-api-key`. */
      readonly apiKey: SecretSetting;
    }
  | {
      readonly kind: 'hubspot';
      /** The API's base, https://api.hubapi.com unless CRM_URL says otherwise. */
      readonly url: string;
      /** CRM_API_KEY: the private app's access token, sent as a Bearer token. */
      readonly token: SecretSetting;
    }
  | {
      readonly kind: 'salesforce';
      /** The org's My Domain URL: its token endpoint and its REST API. */
      readonly url: string;
      /** `{"client_id","client_secret"}` of the connected app (client-credentials flow). */
      readonly credentials: SecretSetting;
      /** SALESFORCE_OBJECT: the sObject holding people, Contact unless set. */
      readonly object: string;
      /** SALESFORCE_API_VERSION, such as 66.0. */
      readonly apiVersion: string;
      /** SALESFORCE_PHONE_FIELDS: the object's phone fields a number is searched in. */
      readonly phoneFields: readonly string[];
    };

/** Per kind: where the record id is, and the claims, when CRM_ID_PATH and CLAIM_MAP are unset. */
export const CRM_DEFAULTS: Record<
  CrmKind,
  { readonly idPath: string; readonly fields: Readonly<Record<string, string>> }
> = {
  http: { idPath: 'id', fields: { crm_id: 'id', name: 'name' } },
  // A HubSpot record id is `hs_object_id` among the contact's properties (hubspot-crm.ts).
  hubspot: {
    idPath: 'hs_object_id',
    fields: { crm_id: 'hs_object_id', first_name: 'firstname', last_name: 'lastname' },
  },
  // A Contact's `Name` is its compound full name, readable in SOQL.
  salesforce: { idPath: 'Id', fields: { crm_id: 'Id', name: 'Name' } },
};

/** HubSpot's public API, when CRM_KIND=hubspot leaves CRM_URL unset. */
export const HUBSPOT_API_URL = 'https://api.hubapi.com';
/**
 * A current Salesforce REST API version: Spring '26's (Winter '27 serves 68.0; each version is
 * supported for years), SALESFORCE_API_VERSION overrides it.
 */
export const SALESFORCE_DEFAULT_API_VERSION = '66.0';

const list = (fallback: string) =>
  z.pipe(
    z._default(z.string(), fallback),
    z.transform((value) =>
      value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== ''),
    ),
  );

// An empty variable counts as unset: CloudFormation and shells both produce them. Defined here,
// where config.ts (which imports this file) takes it from, so that it exists once.
export const optionalText = z.pipe(
  z.transform((value: unknown) =>
    typeof value === 'string' && value.trim() === '' ? undefined : value,
  ),
  z.optional(z.string()),
);

/** The CRM's settings, beside the service's (config.ts merges them into one schema). */
export const crmEnvironment = {
  CRM_URL: z.pipe(
    optionalText,
    z.optional(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  ),
  CRM_API_KEY: optionalText,
  CRM_API_KEY_SECRET_ARN: optionalText,
  SALESFORCE_CLIENT_ID: optionalText,
  SALESFORCE_CLIENT_SECRET: optionalText,
  SALESFORCE_CREDENTIALS_SECRET_ARN: optionalText,
  SALESFORCE_OBJECT: z.pipe(optionalText, z._default(z.string(), 'Contact')),
  SALESFORCE_API_VERSION: z.pipe(
    optionalText,
    z._default(z.string(), SALESFORCE_DEFAULT_API_VERSION),
  ),
  SALESFORCE_PHONE_FIELDS: list('Phone,MobilePhone'),
};

type CrmEnvironment = z.infer<ReturnType<typeof z.object<typeof crmEnvironment>>>;

/** A setting that cannot work: `setting` names it (never its value). */
export class CrmSettingError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
    this.name = 'CrmSettingError';
  }
}

// A Salesforce name goes into SOQL text: only an identifier, never anything to escape.
const SOQL_NAME = /^[A-Za-z][A-Za-z0-9_]{0,79}$/;
// HubSpot's internal property names: lower-case letters, digits and underscores, flat. (Its
// answers key properties by internal name, so `FirstName` would never be found.)
const HUBSPOT_PROPERTY = /^[a-z0-9_]{1,100}$/;

/** The CRM settings of `kind`, checked against the claim mapping they must serve. */
export function crmSettingsOf(
  kind: CrmKind,
  e: CrmEnvironment,
  mapping: ClaimMapping,
): CrmSettings {
  if (kind === 'http') {
    return {
      kind,
      url: required(e.CRM_URL, 'CRM_URL', 'must be an http(s) URL'),
      apiKey: apiKey(e),
    };
  }
  const paths = [mapping.idPath, ...mapping.fields.map((f) => f.path)];
  if (kind === 'hubspot') {
    for (const path of paths) {
      if (path.length !== 1 || !HUBSPOT_PROPERTY.test(path[0] as string)) {
        throw new CrmSettingError(
          'CLAIM_MAP',
          `"${path.join('.')}" is no HubSpot contact property: use internal names, flat and lower-case, such as firstname`,
        );
      }
      // The generic CRM's `id` (the default claim map of CRM_KIND=http) is no contact property.
      if (path[0] === 'id') {
        throw new CrmSettingError(
          'CLAIM_MAP',
          'a HubSpot contact has no property "id": its record id is hs_object_id',
        );
      }
    }
    const url = credentialUrl(e.CRM_URL ?? HUBSPOT_API_URL, 'CRM_URL');
    // A lookup endpoint of the generic protocol (the path of the token's requests is the
    // adapter's, /crm/v3/...): the token must not go to whatever CRM_URL said before.
    if (new URL(url).pathname !== '/') {
      throw new CrmSettingError(
        'CRM_URL',
        "must be HubSpot's API base, an origin such as https://api.hubapi.com (unset, that one)",
      );
    }
    return { kind, url, token: apiKey(e) };
  }
  for (const path of paths) {
    // A relationship path such as Account.Name is SOQL; at most five levels (SOQL's own limit).
    if (path.length > 5 || path.some((segment) => !SOQL_NAME.test(segment))) {
      throw new CrmSettingError(
        'CLAIM_MAP',
        `"${path.join('.')}" is no Salesforce field path such as Name or Account.Name`,
      );
    }
  }
  if (!SOQL_NAME.test(e.SALESFORCE_OBJECT)) {
    throw new CrmSettingError('SALESFORCE_OBJECT', 'must be an object API name such as Contact');
  }
  const version = /^v?(\d{2,3}\.0)$/.exec(e.SALESFORCE_API_VERSION)?.[1];
  if (version === undefined) {
    throw new CrmSettingError('SALESFORCE_API_VERSION', 'must be a version such as 66.0');
  }
  const { SALESFORCE_CLIENT_ID: id, SALESFORCE_CLIENT_SECRET: secret } = e;
  if (!e.SALESFORCE_CREDENTIALS_SECRET_ARN && !(id && secret)) {
    throw new CrmSettingError(
      'SALESFORCE_CLIENT_ID',
      'set SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET, or SALESFORCE_CREDENTIALS_SECRET_ARN',
    );
  }
  return {
    kind,
    url: myDomainUrl(e.CRM_URL),
    credentials:
      id && secret
        ? { source: 'inline', value: JSON.stringify({ client_id: id, client_secret: secret }) }
        : secretSetting(undefined, e.SALESFORCE_CREDENTIALS_SECRET_ARN),
    object: e.SALESFORCE_OBJECT,
    apiVersion: version,
    phoneFields: names(e.SALESFORCE_PHONE_FIELDS, SOQL_NAME, 'SALESFORCE_PHONE_FIELDS'),
  };
}

/** A secret given inline when set, else by its Secrets Manager id. */
export function secretSetting(
  inline: string | undefined,
  secretId: string | undefined,
): SecretSetting {
  return inline
    ? { source: 'inline', value: inline }
    : { source: 'secrets-manager', secretId: secretId ?? '' };
}

function apiKey(e: CrmEnvironment): SecretSetting {
  if (!e.CRM_API_KEY && !e.CRM_API_KEY_SECRET_ARN) {
    throw new CrmSettingError('CRM_API_KEY', 'set CRM_API_KEY or CRM_API_KEY_SECRET_ARN');
  }
  return secretSetting(e.CRM_API_KEY, e.CRM_API_KEY_SECRET_ARN);
}

function required(value: string | undefined, setting: string, message: string): string {
  if (value === undefined) throw new CrmSettingError(setting, message);
  return value;
}

/**
 * A URL a bearer token or a client secret is sent to: https, but for this machine's own
 * stand-ins (the local stack, the tests), so a typo cannot send a credential in clear text.
 */
function credentialUrl(value: string, setting: string): string {
  const url = new URL(value);
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !loopback) {
    throw new CrmSettingError(setting, 'must be an https URL: a credential is sent to it');
  }
  if (url.search !== '' || url.hash !== '') {
    throw new CrmSettingError(setting, 'must be the base URL, without a query');
  }
  return url.origin + url.pathname.replace(/\/+$/, '');
}

/**
 * The org's My Domain URL: the client-credentials flow is refused on login.salesforce.com and
 * test.salesforce.com ("request not supported on this domain"), and the REST API is not there.
 */
function myDomainUrl(value: string | undefined): string {
  const url = credentialUrl(
    required(value, 'CRM_URL', "must be the org's My Domain URL"),
    'CRM_URL',
  );
  if (/^https:\/\/(login|test)\.salesforce\.com/i.test(url)) {
    throw new CrmSettingError(
      'CRM_URL',
      "must be the org's My Domain URL (https://<domain>.my.salesforce.com), not the shared login host",
    );
  }
  return url;
}

function names(values: readonly string[], pattern: RegExp, setting: string): readonly string[] {
  if (values.length === 0 || values.length > 5 || values.some((v) => !pattern.test(v))) {
    throw new CrmSettingError(setting, 'must list 1 to 5 field names, comma-separated');
  }
  return values;
}
