import * as z from 'zod/mini';
import type { CircuitBreakerPolicy } from './adapters/crm-circuit-breaker.ts';
import {
  CRM_DEFAULTS,
  CRM_KINDS,
  CrmSettingError,
  type CrmSettings,
  crmEnvironment,
  crmSettingsOf,
  optionalText,
  type SecretSetting,
  secretSetting,
} from './crm-config.ts';
import { buildClaimMapping, type ClaimMapping, ClaimMappingError } from './domain/claims.ts';
import { parseJsonObject } from './domain/json-object.ts';
import { type CountryCode, isCountryCode } from './domain/phone.ts';
import { parseSigningSecrets } from './domain/signature.ts';
import { parseSourceNetworks, type SourceNetworks } from './domain/source-networks.ts';
import { isValidTimeZone } from './domain/sync-day.ts';
import type { MatchKeyKind } from './domain/sync-request.ts';
import { type LoginTimeBudget, loginTimeBudget, TimeBudgetError } from './domain/time-budget.ts';

export type { SecretSetting } from './crm-config.ts';
export { optionalText, secretSetting };

/** What reading a stamp and computing its basis needs: the backfill's orchestrator has only this. */
export interface StampReadConfig {
  readonly tableName: string;
  readonly matchKeys: readonly MatchKeyKind[];
  readonly defaultPhoneCountry: CountryCode | undefined;
  readonly mapping: ClaimMapping;
  readonly stampRetentionDays: number;
}

export interface SyncServiceConfig extends StampReadConfig {
  readonly signingSecret: SecretSetting;
  /** Which CRM, where, and with which credentials (CRM_KIND and its settings, crm-config.ts). */
  readonly crm: CrmSettings;
  readonly crmTimeoutMs: number;
  /** The caller's budget: the Action's SYNC_TIMEOUT_MS. */
  readonly actionTimeoutMs: number;
  /** The lease and the waiters' budget, derived from the two timeouts (time-budget.ts). */
  readonly timeBudget: LoginTimeBudget;
  readonly crmMaxResponseBytes: number;
  readonly crmBreaker: CircuitBreakerPolicy;
  readonly timeZone: string;
  readonly notFoundFreshSeconds: number;
  readonly staleRetrySeconds: number;
  readonly secretsMaxAgeSeconds: number;
  readonly rateLimitPerSecond: number;
  readonly rateLimitBurst: number;
  /** ALLOWED_SOURCE_IPS: the networks that may call the API; undefined lets everyone call. */
  readonly allowedSources?: SourceNetworks | undefined;
  /** MATCH_KEY_HASH_SECRET: keys the match-key hash on stamps; none writes no hash. */
  readonly matchKeyHashSecret?: SecretSetting | undefined;
}

// One message for every way a number is wrong, so it always says what is accepted.
export const int = (min: number, max: number, fallback: number) => {
  const accepted = `must be a whole number from ${min} to ${max}`;
  return z._default(
    z.coerce
      .number({ error: accepted })
      .check(z.int(accepted), z.minimum(min, accepted), z.maximum(max, accepted)),
    fallback,
  );
};

const text = (fallback: string) => z._default(z.string(), fallback);

/** How stamps are keyed and read: the settings every function that reads stamps shares. */
const stampSettings = {
  TABLE_NAME: z.string().check(z.minLength(3, 'must name the DynamoDB table of sync stamps')),
  // Read with the stamps: the record id's default path, and the claims', depend on the CRM.
  CRM_KIND: z._default(z.enum(CRM_KINDS, `must be one of ${CRM_KINDS.join(', ')}`), 'http'),
  CRM_ID_PATH: optionalText,
  CRM_MATCH_KEYS: z.pipe(
    z.pipe(
      text('phone'),
      z.transform((value) => value.split(',').map((k) => k.trim())),
    ),
    z.array(z.enum(['phone', 'email'], 'must list phone and/or email')).check(
      z.minLength(1),
      z.refine((keys) => new Set(keys).size === keys.length, 'must not repeat a key'),
    ),
  ),
  DEFAULT_PHONE_COUNTRY: z.pipe(
    optionalText,
    z.optional(
      z
        .string()
        .check(z.refine(isCountryCode, 'must be an ISO 3166 country code such as US or GB')),
    ),
  ),
  CLAIM_NAMESPACE: text('https://crm.example.com/'),
  CLAIM_MAP: optionalText,
  CLAIM_VALUE_MAX_LENGTH: int(1, 2_048, 256),
  STAMP_RETENTION_DAYS: int(1, 3_650, 35),
};

/**
 * Every setting of the sync service, by environment variable (documented in the README).
 * zod/mini: the full zod build would add ~440 KiB to the Lambda bundle and its cold start.
 */
const environment = z
  .object({
    ...stampSettings,
    SYNC_SIGNING_SECRET: optionalText,
    SYNC_SIGNING_SECRET_ARN: optionalText,
    ...crmEnvironment,
    CRM_TIMEOUT_MS: int(100, 10_000, 2_500),
    ACTION_TIMEOUT_MS: int(500, 15_000, 3_000),
    CRM_MAX_RESPONSE_BYTES: int(1_024, 16 * 1024 * 1024, 1024 * 1024),
    CRM_BREAKER_FAILURES: int(0, 1_000, 5),
    CRM_BREAKER_COOLDOWN_SECONDS: int(1, 3_600, 30),
    CRM_RETRY_AFTER_MAX_SECONDS: int(1, 3_600, 600),
    SYNC_TIME_ZONE: z._default(
      z.string().check(z.refine(isValidTimeZone, 'must be an IANA time zone such as Europe/Paris')),
      'UTC',
    ),
    NOT_FOUND_FRESH_SECONDS: int(0, 86_400, 3_600),
    STALE_RETRY_SECONDS: int(0, 86_400, 300),
    SECRETS_MAX_AGE_SECONDS: int(0, 86_400, 300),
    RATE_LIMIT_PER_SECOND: int(0, 1_000_000, 0),
    ALLOWED_SOURCE_IPS: optionalText,
    MATCH_KEY_HASH_SECRET: optionalText,
    MATCH_KEY_HASH_SECRET_ARN: optionalText,
    RATE_LIMIT_BURST: z.optional(
      z.coerce
        .number({ error: 'must be a whole number of at least 1' })
        .check(
          z.int('must be a whole number of at least 1'),
          z.minimum(1, 'must be a whole number of at least 1'),
        ),
    ),
  })
  .check(
    z.refine((env) => Boolean(env.SYNC_SIGNING_SECRET || env.SYNC_SIGNING_SECRET_ARN), {
      path: ['SYNC_SIGNING_SECRET'],
      error: 'set SYNC_SIGNING_SECRET or SYNC_SIGNING_SECRET_ARN',
    }),
  );

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses settings with a schema; the error names every wrong setting, never its value. */
export function parseSettings<T extends z.ZodMiniType>(
  schema: T,
  input: unknown,
  what: string,
): z.infer<T> {
  const parsed = schema.safeParse(input, { error: acceptedValues });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${String(i.path[0] ?? what)}: ${i.message}`);
    throw new ConfigError(`Invalid ${what}: ${problems.join('; ')}`);
  }
  return parsed.data as z.infer<T>;
}

/**
 * What a setting accepts, for a check its schema left without a message: zod/mini's own is a
 * bare "Invalid input". A message the schema gives always wins over this one.
 */
function acceptedValues(issue: z.core.$ZodRawIssue): string {
  const unit = (origin: string) =>
    origin === 'string' ? ' characters' : origin === 'array' ? ' items' : '';
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'must be set';
      return `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`;
    case 'too_small':
      return `must be ${issue.inclusive ? 'at least' : 'greater than'} ${issue.minimum}${unit(issue.origin)}`;
    case 'too_big':
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}${unit(issue.origin)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_format':
      return issue.format === 'regex' ? `must match ${issue.pattern}` : `must be a ${issue.format}`;
    default:
      return 'has a value that is not accepted';
  }
}

/** The local stack's port (`npm start`, `npm run sign`) when PORT is unset or empty. */
export const DEFAULT_LOCAL_PORT = 3000;

const PORT_ACCEPTED = 'must be a whole number from 0 to 65535 (0 picks any free port)';
const localPortSettings = z.object({
  PORT: z.pipe(
    optionalText,
    z.optional(
      z.string().check(z.refine((p) => /^\d{1,5}$/.test(p) && Number(p) <= 65_535, PORT_ACCEPTED)),
    ),
  ),
});

/** PORT of the local stack, read before anything starts; the error names PORT and its range. */
export function loadLocalPort(env: Readonly<Record<string, string | undefined>>): number {
  const { PORT } = parseSettings(localPortSettings, env, 'configuration');
  return PORT === undefined ? DEFAULT_LOCAL_PORT : Number(PORT);
}

/** Parses the service's settings once, at start; the message names every wrong setting. */
export function loadSyncServiceConfig(
  env: Readonly<Record<string, string | undefined>>,
): SyncServiceConfig {
  const e = parseSettings(environment, env, 'configuration');
  const timeBudget = setting('CRM_TIMEOUT_MS', () =>
    loginTimeBudget(e.CRM_TIMEOUT_MS, e.ACTION_TIMEOUT_MS),
  );
  if (e.SYNC_SIGNING_SECRET) {
    setting('SYNC_SIGNING_SECRET', () => parseSigningSecrets(e.SYNC_SIGNING_SECRET ?? ''));
  }
  const allowed = e.ALLOWED_SOURCE_IPS;
  const allowedSources =
    allowed === undefined
      ? undefined
      : setting('ALLOWED_SOURCE_IPS', () => parseSourceNetworks(allowed));
  const stamps = stampReadConfigOf(e);
  return {
    ...stamps,
    signingSecret: secretSetting(e.SYNC_SIGNING_SECRET, e.SYNC_SIGNING_SECRET_ARN),
    crm: setting('CRM_KIND', () => crmSettingsOf(e.CRM_KIND, e, stamps.mapping)),
    crmTimeoutMs: e.CRM_TIMEOUT_MS,
    actionTimeoutMs: e.ACTION_TIMEOUT_MS,
    timeBudget,
    crmMaxResponseBytes: e.CRM_MAX_RESPONSE_BYTES,
    crmBreaker: {
      failureThreshold: e.CRM_BREAKER_FAILURES,
      cooldownMs: e.CRM_BREAKER_COOLDOWN_SECONDS * 1000,
      maxRetryAfterMs: e.CRM_RETRY_AFTER_MAX_SECONDS * 1000,
    },
    timeZone: e.SYNC_TIME_ZONE,
    notFoundFreshSeconds: e.NOT_FOUND_FRESH_SECONDS,
    staleRetrySeconds: e.STALE_RETRY_SECONDS,
    secretsMaxAgeSeconds: e.SECRETS_MAX_AGE_SECONDS,
    rateLimitPerSecond: e.RATE_LIMIT_PER_SECOND,
    rateLimitBurst: e.RATE_LIMIT_BURST ?? Math.max(1, e.RATE_LIMIT_PER_SECOND * 2),
    allowedSources,
    matchKeyHashSecret:
      e.MATCH_KEY_HASH_SECRET || e.MATCH_KEY_HASH_SECRET_ARN
        ? secretSetting(e.MATCH_KEY_HASH_SECRET, e.MATCH_KEY_HASH_SECRET_ARN)
        : undefined,
  };
}

/** The stamp settings alone: what the backfill's orchestrator loads (no CRM, no signing). */
export function loadStampReadConfig(
  env: Readonly<Record<string, string | undefined>>,
): StampReadConfig {
  return stampReadConfigOf(parseSettings(z.object(stampSettings), env, 'configuration'));
}

function stampReadConfigOf(
  e: z.infer<ReturnType<typeof z.object<typeof stampSettings>>>,
): StampReadConfig {
  const defaults = CRM_DEFAULTS[e.CRM_KIND];
  const idPath = e.CRM_ID_PATH ?? defaults.idPath;
  const fields = setting('CLAIM_MAP', () => parseClaimMap(e.CLAIM_MAP)) ?? {
    ...defaults.fields,
    crm_id: idPath,
  };
  const mapping = {
    ...setting('CLAIM_MAP', () =>
      buildClaimMapping({
        namespace: e.CLAIM_NAMESPACE,
        idPath,
        fields,
        maxValueLength: e.CLAIM_VALUE_MAX_LENGTH,
      }),
    ),
    crmKind: e.CRM_KIND,
  };
  return {
    tableName: e.TABLE_NAME,
    matchKeys: e.CRM_MATCH_KEYS,
    defaultPhoneCountry: e.DEFAULT_PHONE_COUNTRY as CountryCode | undefined,
    mapping,
    stampRetentionDays: e.STAMP_RETENTION_DAYS,
  };
}

function parseClaimMap(text: string | undefined): Record<string, string> | undefined {
  if (text === undefined) return undefined;
  const parsed = parseJsonObject(text);
  if (!parsed) {
    throw new Error(
      'must be a JSON object of claim name to CRM field path, such as {"crm_id":"id","name":"name"}',
    );
  }
  for (const value of Object.values(parsed)) {
    if (typeof value !== 'string') throw new Error('every CRM field path must be a string');
  }
  return parsed as Record<string, string>;
}

const MAPPING_SETTINGS = {
  namespace: 'CLAIM_NAMESPACE',
  idPath: 'CRM_ID_PATH',
  fields: 'CLAIM_MAP',
  size: 'CLAIM_MAP and CLAIM_VALUE_MAX_LENGTH',
} as const;

function setting<T>(name: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    const named =
      error instanceof ClaimMappingError
        ? MAPPING_SETTINGS[error.setting]
        : error instanceof CrmSettingError
          ? error.setting
          : error instanceof TimeBudgetError
            ? 'CRM_TIMEOUT_MS and ACTION_TIMEOUT_MS'
            : name;
    throw new ConfigError(`Invalid configuration: ${named}: ${(error as Error).message}`);
  }
}

export interface BackfillConfig {
  readonly auth0Domain: string;
  readonly auth0SecretId: string;
  readonly queueUrl: string | undefined;
  /** This worker's share of the Management API's user-write budget. */
  readonly auth0WritesPerSecond: number;
  /** This worker's share of the CRM's rate limit. */
  readonly crmRatePerSecond: number;
  readonly connectionId: string | undefined;
}

/** Calls per second: any positive number (a worker's share may be a fraction). */
const rate = (fallback: number) =>
  z._default(
    z.coerce
      .number({ error: 'must be a number of calls per second above 0, such as 2 or 0.5' })
      .check(z.positive('must be a number of calls per second above 0, such as 2 or 0.5')),
    fallback,
  );

const backfillEnvironment = z.object({
  AUTH0_DOMAIN: z.string().check(z.regex(/^[a-z0-9.-]+$/i, 'must be a tenant domain')),
  AUTH0_SECRET_ARN: z.string().check(z.minLength(1, 'must name the Auth0 credentials secret')),
  BACKFILL_QUEUE_URL: optionalText,
  AUTH0_WRITES_PER_SECOND: rate(2),
  CRM_RATE_PER_SECOND: rate(5),
  AUTH0_CONNECTION_ID: optionalText,
});

export function loadBackfillConfig(
  env: Readonly<Record<string, string | undefined>>,
): BackfillConfig {
  const e = parseSettings(backfillEnvironment, env, 'configuration');
  return {
    auth0Domain: e.AUTH0_DOMAIN,
    auth0SecretId: e.AUTH0_SECRET_ARN,
    queueUrl: e.BACKFILL_QUEUE_URL,
    auth0WritesPerSecond: e.AUTH0_WRITES_PER_SECOND,
    crmRatePerSecond: e.CRM_RATE_PER_SECOND,
    connectionId: e.AUTH0_CONNECTION_ID,
  };
}
