import * as z from 'zod/mini';
import { ConfigError, parseSettings } from '#shared/config.ts';
import {
  CRM_DEFAULTS,
  CRM_KINDS,
  CrmSettingError,
  crmSettingsOf,
  SALESFORCE_DEFAULT_API_VERSION,
} from '#shared/crm-config.ts';
import {
  buildClaimMapping,
  ClaimMappingError,
  checkAccessTokenNamespace,
} from '#shared/domain/claims.ts';
import { loginTimeBudget } from '#shared/domain/time-budget.ts';
import {
  ACM_CERTIFICATE_ARN,
  customDomainProblem,
  dnsNameProblem,
  governanceProblem,
  KMS_KEY_ARN,
  SECURITY_GROUP_ID,
  SUBNET_ID,
  sourceNetworksProblem,
  timeZoneProblem,
} from './context-checks.ts';
import {
  contextBoolean,
  contextInt,
  contextIntOneOf,
  contextOptionalBoolean,
  contextStringRecord,
  explained,
  optionalContextIdList,
  optionalContextInt,
} from './context-values.ts';
import { scheduleExpressionProblem } from './schedule-expression.ts';

/**
 * The stack's settings, read once from CDK context (cdk.json, a stage's block in it, or
 * `-c key=value`) and validated here: a wrong value stops `cdk synth` with a message naming the
 * setting. Every value is accepted in its JSON type and as the string `-c` gives
 * (infra/context-values.ts).
 */

/**
 * CloudWatch Logs' retention periods: "Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120,
 * 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, and 3653" (PutRetentionPolicy,
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
 */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

/** An empty value counts as unset, as for the service's variables (shared/config.ts). */
const optionalText = (...checks: Parameters<z.ZodMiniString['check']>) =>
  z.pipe(
    z.transform((value: unknown) => (value === '' ? undefined : value)),
    z.optional(z.string().check(...checks)),
  );

const schema = z.object({
  auth0Domain: z
    .string()
    .check(z.regex(/^[a-z0-9.-]+$/i, 'a tenant domain, e.g. acme.eu.auth0.com')),
  /** Which CRM the service asks: the generic HTTP protocol, HubSpot or Salesforce (CRM_KIND). */
  crmKind: z._default(z.enum(CRM_KINDS, `one of ${CRM_KINDS.join(', ')}`), 'http'),
  /**
   * http: the lookup endpoint; hubspot: the API's base (default https://api.hubapi.com);
   * salesforce: the org's My Domain URL. Required but for hubspot (see crmProblem).
   */
  // `-c crmUrl=` unsets the one cdk.json's example sets (HubSpot needs none).
  crmUrl: z.pipe(
    z.transform((value: unknown) => (value === '' ? undefined : value)),
    z.optional(z.url({ protocol: /^https$/, error: 'an https URL (the CRM)' })),
  ),
  /** Default by crmKind (crm-config.ts CRM_DEFAULTS): id, hs_object_id, Id. */
  crmIdPath: z.optional(z.string()),
  crmMatchKeys: z._default(z.string().check(z.regex(/^(phone|email)(,(phone|email))?$/)), 'phone'),
  crmTimeoutMs: contextInt(1, 10_000, 2_500),
  /** The Action's SYNC_TIMEOUT_MS: CRM_TIMEOUT_MS and the waiters' budget must fit inside it. */
  actionTimeoutMs: contextInt(1, 15_000, 3_000),
  claimNamespace: z._default(z.string(), 'https://crm.example.com/'),
  /** Default by crmKind (crm-config.ts CRM_DEFAULTS), with crm_id at crmIdPath. */
  claimMap: contextStringRecord({}, '{"crm_id":"id","name":"name"}'),
  /** Salesforce only: the object holding people, its API version, its phone fields. */
  salesforceObject: z._default(z.string(), 'Contact'),
  salesforceApiVersion: z._default(z.string(), SALESFORCE_DEFAULT_API_VERSION),
  salesforcePhoneFields: z._default(z.string(), 'Phone,MobilePhone'),
  syncTimeZone: z._default(z.string().check(explained(timeZoneProblem)), 'UTC'),
  defaultPhoneCountry: z.optional(z.string().check(z.regex(/^[A-Z]{2}$/))),
  /** API Gateway stage throttling: steady requests per second and burst. */
  apiRateLimit: contextInt(1, 10_000, 100),
  apiBurstLimit: contextInt(1, 5_000, 200),
  /** Reserved concurrency of the sync Lambda: caps what the CRM can receive at once. */
  syncMaxConcurrency: optionalContextInt(1, 10_000),
  backfillSchedule: z._default(
    z.string().check(explained(scheduleExpressionProblem)),
    'cron(0 3 * * ? *)',
  ),
  /** The zone EventBridge Scheduler reads backfillSchedule in. */
  backfillScheduleTimeZone: z._default(z.string().check(explained(timeZoneProblem)), 'UTC'),
  /**
   * The worker's SQS event source maxConcurrency, which Lambda takes from 2 to 1000
   * (ScalingConfig, https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html).
   */
  backfillMaxConcurrency: contextInt(2, 100, 2),
  /**
   * The CRM's own rate limit, shared by all backfill workers. Default 10; 3 for HubSpot, whose
   * search API takes 5 a second for the whole account, logins included.
   */
  crmRatePerSecond: optionalContextInt(1, 10_000),
  /** The Auth0 Management API's user-write rate left for the backfill. */
  auth0WritesPerSecond: contextInt(1, 1_000, 2),
  installAction: contextBoolean(false),
  /**
   * An Auth0 credentials secret that exists already (its complete ARN): the stack reads it
   * instead of creating one. Required with installAction (see installOrderProblem).
   */
  auth0CredentialsSecretArn: z.optional(
    z
      .string()
      .check(
        z.regex(
          /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+-[A-Za-z0-9]{6}$/,
          'the complete ARN of an existing secret, with its 6-character suffix (e.g. the Auth0CredentialsSecretArn output)',
        ),
      ),
  ),
  actionName: z._default(z.string(), 'auth0-crm-sync'),
  actionPosition: z._default(z.string().check(z.regex(/^(first|last|\d+)$/)), 'last'),
  failMode: z._default(z.enum(['open', 'closed']), 'open'),
  /** The Action's ACCESS_TOKEN_CLAIMS: the claims on the access token too. */
  accessTokenClaims: contextBoolean(false),
  /** The Action's METADATA_WRITES: `on_change` (a profile write only when the CRM data changed) or `daily`. */
  actionMetadataWrites: z._default(z.enum(['on_change', 'daily']), 'on_change'),
  alarmEmail: z.optional(z.email()),
  /** The backfill schedule's state: false deploys it disabled (see the README's operations). */
  backfillEnabled: contextBoolean(true),
  /**
   * The service's ALLOWED_SOURCE_IPS: comma-separated CIDRs and Auth0 region names
   * (`auth0:us`, …); unset lets any network call (the signature still guards every request).
   * Parsed here as the service parses it at start, so a bad entry fails synth, not cold start.
   */
  allowedSourceIps: optionalText(explained(sourceNetworksProblem)),
  /** A custom domain for the sync API (with certificateArn); the execute-api URL is then off. */
  domainName: optionalText(explained(dnsNameProblem)),
  /** The ACM certificate of domainName, in the stack's region (a regional API Gateway domain). */
  certificateArn: optionalText(
    z.regex(
      ACM_CERTIFICATE_ARN,
      'must be an ACM certificate ARN: arn:aws:acm:<region>:<account>:certificate/<id>',
    ),
  ),
  /**
   * With a custom domain, whether the execute-api URL stays on (default: off). On for the deploy
   * that adds the domain: logins keep the old URL until DNS points at the domain; a second deploy
   * without it moves the Action and turns the old URL off.
   */
  executeApiEndpoint: contextOptionalBoolean(),
  logRetentionDays: contextIntOneOf(
    LOG_RETENTION_DAYS,
    90,
    'the retention periods CloudWatch Logs accepts',
  ),
  /**
   * The profile for organizations that enforce AWS Control Tower's proactive controls (README,
   * "Governed organizations"): log groups under a customer-managed KMS key and kept a year at
   * least, the functions in the VPC below. Off, the stack stays cheap and simple.
   */
  governed: contextBoolean(false),
  /** governed: the log groups' KMS key, one that exists already; unset, the stack creates one. */
  logsKmsKeyArn: optionalText(
    z.regex(KMS_KEY_ARN, 'must be a KMS key ARN: arn:aws:kms:<region>:<account>:key/<key id>'),
  ),
  /** governed: the subnets of the functions (private, with a route to the CRM and Auth0). */
  vpcSubnetIds: optionalContextIdList(SUBNET_ID, 'subnet ids, e.g. subnet-0123456789abcdef0'),
  /** governed: the security groups of the functions (HTTPS out). */
  vpcSecurityGroupIds: optionalContextIdList(
    SECURITY_GROUP_ID,
    'security group ids, e.g. sg-0123456789abcdef0',
  ),
});

/** The stage a stack is built for, with its account and region when cdk.json names them. */
export interface StageIdentity {
  readonly name: string;
  readonly account?: string;
  readonly region?: string;
}

/** The settings as read, with the defaults that depend on crmKind filled in. */
export type StackConfig = Omit<
  z.infer<typeof schema>,
  'crmIdPath' | 'claimMap' | 'crmRatePerSecond'
> & {
  readonly crmIdPath: string;
  readonly claimMap: Record<string, string>;
  readonly crmRatePerSecond: number;
  readonly stage?: StageIdentity;
};

/** Every setting a stack reads: what a stage's block in cdk.json may override. */
export const STACK_CONFIG_KEYS: readonly string[] = Object.keys(schema.shape);

/** Values in cdk.json that make `cdk synth` work out of the box but must never be deployed. */
export const EXAMPLE_VALUES: Partial<Record<keyof StackConfig, readonly string[]>> = {
  auth0Domain: ['your-tenant.us.auth0.com', 'your-staging-tenant.us.auth0.com'],
  crmUrl: ['https://crm.example.com/contacts/lookup'],
  alarmEmail: ['oncall@example.com'],
};

/**
 * The example network cdk.json ships so that `-c governed=true` synthesizes offline: the ids the
 * AWS documentation uses in its examples. Unused until governed is on; refused at deploy then.
 */
export const EXAMPLE_NETWORK = {
  vpcSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
  vpcSecurityGroupIds: ['sg-0123456789abcdef0'],
} as const;

/** The example account ids of the AWS documentation, which cdk.json's stages ship with. */
export const EXAMPLE_ACCOUNTS: readonly string[] = ['111122223333', '444455556666', '123456789012'];

/**
 * Reads and checks the settings. `stage` names the stage in every message, and its region is
 * the one certificateArn must be in. `servesGovernedStage(key)`: the stage inherits this
 * setting from the top level of cdk.json, where it serves another stage that is governed, so
 * it is no mistake for this stage to leave it unread (infra/stages.ts).
 */
export function readStackConfig(
  context: (key: string) => unknown,
  stage?: StageIdentity,
  options: { readonly servesGovernedStage?: (key: string) => boolean } = {},
): StackConfig {
  const what = stage ? `CDK context of stage ${stage.name}` : 'CDK context';
  const raw = Object.fromEntries(STACK_CONFIG_KEYS.map((key) => [key, context(key)]));
  const parsed = parseSettings(schema, raw, what);
  const defaults = CRM_DEFAULTS[parsed.crmKind];
  const crmIdPath = parsed.crmIdPath ?? defaults.idPath;
  const config: StackConfig = {
    ...parsed,
    crmIdPath,
    // Unset (not `{}`, which the claim mapping's check refuses): the crmKind's claims.
    claimMap:
      raw.claimMap === undefined ? { ...defaults.fields, crm_id: crmIdPath } : parsed.claimMap,
    crmRatePerSecond: parsed.crmRatePerSecond ?? (parsed.crmKind === 'hubspot' ? 3 : 10),
    ...(stage ? { stage } : {}),
  };
  const invalid = (message: string) => new ConfigError(`Invalid ${what}: ${message}`);
  const crm = crmProblem(config);
  if (crm) throw invalid(crm);
  const installOrder = installOrderProblem(config);
  if (installOrder) throw invalid(installOrder);
  try {
    loginTimeBudget(config.crmTimeoutMs, config.actionTimeoutMs);
  } catch (error) {
    throw invalid(`crmTimeoutMs and actionTimeoutMs: ${(error as Error).message}`);
  }
  const customDomain = customDomainProblem(config);
  if (customDomain) throw invalid(customDomain);
  const governance = governanceProblem(
    config,
    (key) =>
      (key !== 'logsKmsKeyArn' && isExampleNetwork(key, config[key] ?? [])) ||
      options.servesGovernedStage?.(key) === true,
  );
  if (governance) throw invalid(governance);
  // The same check the service makes at start, so a bad map fails at synth, not at cold start.
  // The stack leaves CLAIM_VALUE_MAX_LENGTH at the service's default, 256.
  try {
    buildClaimMapping({
      namespace: config.claimNamespace,
      idPath: config.crmIdPath,
      fields: config.claimMap,
      maxValueLength: 256,
    });
    if (config.accessTokenClaims) checkAccessTokenNamespace(config.claimNamespace);
  } catch (error) {
    if (!(error instanceof ClaimMappingError)) throw error;
    const named = {
      namespace: config.accessTokenClaims
        ? 'claimNamespace (with accessTokenClaims)'
        : 'claimNamespace',
      idPath: 'crmIdPath',
      fields: 'claimMap',
      size: 'claimMap (values cut at CLAIM_VALUE_MAX_LENGTH, 256)',
    }[error.setting];
    throw invalid(`${named}: ${error.message}`);
  }
  return config;
}

/** The context key of each CRM setting the service would refuse (crm-config.ts). */
const CRM_CONTEXT_KEYS: Readonly<Record<string, string>> = {
  CRM_URL: 'crmUrl',
  CLAIM_MAP: 'claimMap (or crmIdPath)',
  SALESFORCE_OBJECT: 'salesforceObject',
  SALESFORCE_API_VERSION: 'salesforceApiVersion',
  SALESFORCE_PHONE_FIELDS: 'salesforcePhoneFields',
};

/**
 * The CRM settings checked as the service checks them at start (crm-config.ts), so a claim map
 * HubSpot cannot serve or a Salesforce name that is no identifier fails synth, not cold start;
 * and HubSpot's search limit, which a backfill rate above it would spend on its own.
 */
function crmProblem(config: StackConfig): string | undefined {
  if (config.crmKind !== 'hubspot' && config.crmUrl === undefined) {
    return `crmUrl: must be set for crmKind ${config.crmKind} (${config.crmKind === 'salesforce' ? "the org's My Domain URL" : 'the CRM lookup endpoint'})`;
  }
  if (config.crmKind === 'hubspot' && config.crmRatePerSecond > 4) {
    return "crmRatePerSecond: HubSpot's search API takes 5 requests a second for the whole account, logins included: at most 4 for the backfill";
  }
  let mapping: ReturnType<typeof buildClaimMapping>;
  try {
    mapping = buildClaimMapping({
      namespace: config.claimNamespace,
      idPath: config.crmIdPath,
      fields: config.claimMap,
      maxValueLength: 256,
    });
  } catch {
    return undefined; // named by the claim mapping's own check below
  }
  try {
    crmSettingsOf(
      config.crmKind,
      {
        CRM_URL: config.crmUrl,
        CRM_API_KEY: undefined,
        CRM_API_KEY_SECRET_ARN: 'from-the-stack',
        SALESFORCE_CLIENT_ID: undefined,
        SALESFORCE_CLIENT_SECRET: undefined,
        SALESFORCE_CREDENTIALS_SECRET_ARN: 'from-the-stack',
        SALESFORCE_OBJECT: config.salesforceObject,
        SALESFORCE_API_VERSION: config.salesforceApiVersion,
        SALESFORCE_PHONE_FIELDS: config.salesforcePhoneFields.split(',').map((f) => f.trim()),
      },
      mapping,
    );
  } catch (error) {
    if (!(error instanceof CrmSettingError)) throw error;
    return `${CRM_CONTEXT_KEYS[error.setting] ?? error.setting}: ${error.message}`;
  }
  return undefined;
}

/**
 * The Action installer runs during the deploy and reads the Auth0 credentials at once; a secret
 * the same deploy creates still holds its placeholder then, and the install would roll the
 * deploy back. So installAction needs a secret that already holds the credentials.
 */
function installOrderProblem(config: StackConfig): string | undefined {
  if (!config.installAction || config.auth0CredentialsSecretArn !== undefined) return undefined;
  return (
    'installAction=true needs auth0CredentialsSecretArn, because the ' +
    'installer reads the Auth0 credentials during the deploy and a secret the stack creates ' +
    'holds only a placeholder then. Either (1) deploy with installAction=false, put the ' +
    'credentials with the SetAuth0CredentialsCommand output, then deploy again with ' +
    'installAction=true and auth0CredentialsSecretArn=<the Auth0CredentialsSecretArn output>; ' +
    'or (2) create the secret first (aws secretsmanager create-secret --name auth0-crm-sync/auth0 ' +
    '--secret-string \'{"clientId":"…","clientSecret":"…"}\') and pass its ARN as ' +
    'auth0CredentialsSecretArn.'
  );
}

/** The settings still holding an example value, by name (`stages.<name>.account` for the account). */
export function exampleSettings(config: StackConfig): string[] {
  const examples = Object.entries(EXAMPLE_VALUES)
    .filter(([key, values]) => values.includes(config[key as keyof StackConfig] as string))
    .map(([key]) => key);
  if (config.governed) {
    for (const key of ['vpcSubnetIds', 'vpcSecurityGroupIds'] as const) {
      if (config[key]?.some((id) => (EXAMPLE_NETWORK[key] as readonly string[]).includes(id))) {
        examples.push(key);
      }
    }
  }
  const { stage } = config;
  if (stage?.account !== undefined && EXAMPLE_ACCOUNTS.includes(stage.account)) {
    examples.push(`stages.${stage.name}.account`);
  }
  return examples;
}

/** Whether a list holds nothing but the example ids of cdk.json. */
function isExampleNetwork(key: keyof typeof EXAMPLE_NETWORK, ids: readonly string[]): boolean {
  return ids.every((id) => (EXAMPLE_NETWORK[key] as readonly string[]).includes(id));
}
