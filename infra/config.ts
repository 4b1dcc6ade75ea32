import * as z from 'zod/mini';
import { ConfigError, parseSettings } from '#shared/config.ts';
import {
  buildClaimMapping,
  ClaimMappingError,
  checkAccessTokenNamespace,
} from '#shared/domain/claims.ts';
import { isValidTimeZone } from '#shared/domain/sync-day.ts';
import { loginTimeBudget } from '#shared/domain/time-budget.ts';

/**
 * The stack's settings, read once from CDK context (cdk.json or `-c key=value`) and validated
 * here: a wrong value stops `cdk synth` with a message naming the setting.
 */
const positiveInt = (fallback: number, max: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(max)), fallback);

const schema = z.object({
  auth0Domain: z
    .string()
    .check(z.regex(/^[a-z0-9.-]+$/i, 'a tenant domain, e.g. acme.eu.auth0.com')),
  crmUrl: z.url({ protocol: /^https$/, error: 'the CRM lookup endpoint (https)' }),
  crmIdPath: z._default(z.string(), 'id'),
  crmMatchKeys: z._default(z.string().check(z.regex(/^(phone|email)(,(phone|email))?$/)), 'phone'),
  crmTimeoutMs: positiveInt(2_500, 10_000),
  /** The Action's SYNC_TIMEOUT_MS: CRM_TIMEOUT_MS and the waiters' budget must fit inside it. */
  actionTimeoutMs: positiveInt(3_000, 15_000),
  claimNamespace: z._default(z.string(), 'https://crm.example.com/'),
  claimMap: z._default(z.record(z.string(), z.string()), { crm_id: 'id', name: 'name' }),
  syncTimeZone: z._default(
    z.string().check(z.refine(isValidTimeZone, 'an IANA time zone such as Europe/Paris')),
    'UTC',
  ),
  defaultPhoneCountry: z.optional(z.string().check(z.regex(/^[A-Z]{2}$/))),
  /** API Gateway stage throttling: steady requests per second and burst. */
  apiRateLimit: positiveInt(100, 10_000),
  apiBurstLimit: positiveInt(200, 5_000),
  /** Reserved concurrency of the sync Lambda: caps what the CRM can receive at once. */
  syncMaxConcurrency: z.optional(z.coerce.number().check(z.int(), z.minimum(1))),
  backfillSchedule: z._default(
    z.string().check(z.regex(/^(cron|rate)\(.+\)$/)),
    'cron(0 3 * * ? *)',
  ),
  backfillScheduleTimeZone: z._default(z.string(), 'UTC'),
  backfillMaxConcurrency: positiveInt(2, 100),
  /** The CRM's own rate limit, shared by all backfill workers. */
  crmRatePerSecond: positiveInt(10, 10_000),
  /** The Auth0 Management API's user-write rate left for the backfill. */
  auth0WritesPerSecond: positiveInt(2, 1_000),
  installAction: z._default(z.boolean(), false),
  /**
   * An Auth0 credentials secret that exists already (its complete ARN): the stack reads it
   * instead of creating one. Required with installAction (see installOrder).
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
  accessTokenClaims: z._default(z.boolean(), false),
  /** The Action's METADATA_WRITES: `on_change` (a profile write only when the CRM data changed) or `daily`. */
  actionMetadataWrites: z._default(z.enum(['on_change', 'daily']), 'on_change'),
  alarmEmail: z.optional(z.email()),
  /** The backfill schedule's state: false deploys it disabled (see the README's operations). */
  backfillEnabled: z._default(z.boolean(), true),
  /**
   * The service's ALLOWED_SOURCE_IPS: comma-separated CIDRs and Auth0 region names
   * (`auth0:us`, …); unset lets any network call (the signature still guards every request).
   */
  allowedSourceIps: z.optional(z.string()),
  /** A custom domain for the sync API (with certificateArn); the execute-api URL is then off. */
  domainName: z.optional(z.string()),
  /** The ACM certificate of domainName, in the stack's region. */
  certificateArn: z.optional(z.string()),
  logRetentionDays: z._default(
    z.coerce.number().check(z.refine((d) => [7, 14, 30, 60, 90, 180, 365, 731].includes(d))),
    90,
  ),
});

export type StackConfig = z.infer<typeof schema>;

/** Values in cdk.json that make `cdk synth` work out of the box but must never be deployed. */
export const EXAMPLE_VALUES: Partial<Record<keyof StackConfig, string>> = {
  auth0Domain: 'your-tenant.us.auth0.com',
  crmUrl: 'https://crm.example.com/contacts/lookup',
};

export function readStackConfig(context: (key: string) => unknown): StackConfig {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = context(key);
    // `-c key=value` arrives as a string; JSON-looking values are parsed.
    raw[key] =
      typeof value === 'string' && /^[[{]|^(true|false)$/.test(value) ? JSON.parse(value) : value;
  }
  const config = parseSettings(schema, raw, 'CDK context');
  checkInstallOrder(config);
  try {
    loginTimeBudget(config.crmTimeoutMs, config.actionTimeoutMs);
  } catch (error) {
    throw new ConfigError(
      `Invalid CDK context: crmTimeoutMs and actionTimeoutMs: ${(error as Error).message}`,
    );
  }
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
    throw new ConfigError(`Invalid CDK context: ${named}: ${error.message}`);
  }
  return config;
}

/**
 * The Action installer runs during the deploy and reads the Auth0 credentials at once; a secret
 * the same deploy creates still holds its placeholder then, and the install would roll the
 * deploy back. So installAction needs a secret that already holds the credentials.
 */
function checkInstallOrder(config: StackConfig): void {
  if (!config.installAction || config.auth0CredentialsSecretArn !== undefined) return;
  throw new ConfigError(
    'Invalid CDK context: installAction=true needs auth0CredentialsSecretArn, because the ' +
      'installer reads the Auth0 credentials during the deploy and a secret the stack creates ' +
      'holds only a placeholder then. Either (1) deploy with installAction=false, put the ' +
      'credentials with the SetAuth0CredentialsCommand output, then deploy again with ' +
      'installAction=true and auth0CredentialsSecretArn=<the Auth0CredentialsSecretArn output>; ' +
      'or (2) create the secret first (aws secretsmanager create-secret --name auth0-crm-sync/auth0 ' +
      '--secret-string \'{"clientId":"…","clientSecret":"…"}\') and pass its ARN as ' +
      'auth0CredentialsSecretArn.',
  );
}

/** The settings still holding their example value, by name. */
export function exampleSettings(config: StackConfig): string[] {
  return Object.entries(EXAMPLE_VALUES)
    .filter(([key, value]) => config[key as keyof StackConfig] === value)
    .map(([key]) => key);
}
