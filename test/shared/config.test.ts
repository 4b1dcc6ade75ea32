import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import {
  loadBackfillConfig,
  loadLocalPort,
  loadStampReadConfig,
  loadSyncServiceConfig,
  parseSettings,
} from '#shared/config.ts';

const base = {
  TABLE_NAME: 'crm-sync-stamps',
  SYNC_SIGNING_SECRET: 'test-signing-secret-current-7f3a',
  CRM_URL: 'https://crm.internal.example/lookup',
  CRM_API_KEY: 'test-crm-api-key-5d2e',
};

describe('service configuration', () => {
  it('has the documented defaults', () => {
    const config = loadSyncServiceConfig(base);
    expect(config).toMatchObject({
      crmTimeoutMs: 2_500,
      matchKeys: ['phone'],
      timeZone: 'UTC',
      notFoundFreshSeconds: 3_600,
      staleRetrySeconds: 300,
      secretsMaxAgeSeconds: 300,
      rateLimitPerSecond: 0,
      actionTimeoutMs: 3_000,
      crmMaxResponseBytes: 1024 * 1024,
      crmBreaker: { failureThreshold: 5, cooldownMs: 30_000, maxRetryAfterMs: 600_000 },
      // The lease outlives the CRM call; waiters wait as long as the Action listens, less the network.
      timeBudget: { leaseMs: 4_500, answerWithinMs: 2_700 },
    });
    expect(config.mapping.namespace).toBe('https://crm.example.com/');
    expect(config.mapping.fields.map((f) => [f.claim, f.path.join('.')])).toEqual([
      ['crm_id', 'id'],
      ['name', 'name'],
    ]);
  });

  it('reads a claim map, match keys and secrets by ARN', () => {
    const config = loadSyncServiceConfig({
      ...base,
      SYNC_SIGNING_SECRET: '',
      SYNC_SIGNING_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:s',
      CLAIM_MAP: '{"crm_id":"contact.id","tier":"membership.tier"}',
      CRM_MATCH_KEYS: 'email, phone',
      SYNC_TIME_ZONE: 'Europe/Paris',
    });
    expect(config.signingSecret).toEqual({
      source: 'secrets-manager',
      secretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:s',
    });
    expect(config.matchKeys).toEqual(['email', 'phone']);
    expect(config.mapping.fields.map((f) => f.claim)).toEqual(['crm_id', 'tier']);
    expect(config.timeZone).toBe('Europe/Paris');
  });

  it.each([
    [{ TABLE_NAME: undefined }, /TABLE_NAME/],
    [{ CRM_URL: 'ftp://crm' }, /CRM_URL/],
    [{ CRM_API_KEY: undefined }, /CRM_API_KEY/],
    [{ SYNC_SIGNING_SECRET: undefined }, /SYNC_SIGNING_SECRET/],
    [{ SYNC_TIME_ZONE: 'Mars/Olympus' }, /SYNC_TIME_ZONE/],
    [{ CRM_TIMEOUT_MS: '50' }, /CRM_TIMEOUT_MS/],
    // 2,600 ms of CRM plus 500 ms of network and DynamoDB do not fit in the Action's 3 s.
    [{ CRM_TIMEOUT_MS: '2600' }, /CRM_TIMEOUT_MS and ACTION_TIMEOUT_MS: .*at most 2500 ms/],
    [{ CRM_TIMEOUT_MS: '5000', ACTION_TIMEOUT_MS: '4000' }, /at least 5500 ms/],
    [{ CRM_MAX_RESPONSE_BYTES: '100' }, /CRM_MAX_RESPONSE_BYTES/],
    [{ CRM_BREAKER_COOLDOWN_SECONDS: '0' }, /CRM_BREAKER_COOLDOWN_SECONDS/],
    [{ CRM_MATCH_KEYS: 'phone,fax' }, /CRM_MATCH_KEYS/],
    [{ CLAIM_MAP: '{"sub":' }, /CLAIM_MAP/],
    [{ CLAIM_MAP: '{"a.b":"x"}' }, /CLAIM_MAP/],
    [{ CLAIM_NAMESPACE: 'https://me.auth0.com/' }, /CLAIM_NAMESPACE/],
    [{ CRM_ID_PATH: '__proto__' }, /CRM_ID_PATH/],
    [{ DEFAULT_PHONE_COUNTRY: 'XX' }, /DEFAULT_PHONE_COUNTRY/],
  ])('refuses %j with a message naming the setting', (override, setting) => {
    expect(() => loadSyncServiceConfig({ ...base, ...override })).toThrow(setting);
  });

  it('never puts a secret value in its error message', () => {
    try {
      loadSyncServiceConfig({ ...base, TABLE_NAME: 'x', SYNC_SIGNING_SECRET: ',' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain(base.CRM_API_KEY);
      expect((error as Error).message).toMatch(/TABLE_NAME/);
    }
  });
});

describe('the size of app_metadata.crm is checked when the configuration is read', () => {
  it('the default claim map and length fit', () => {
    expect(loadSyncServiceConfig(base).mapping.maxValueLength).toBe(256);
  });

  it.each([
    [
      { CLAIM_VALUE_MAX_LENGTH: '2048' },
      /2 claims of up to 2048 characters .* 17,313 bytes .*at most 395 characters/,
    ],
    [
      {
        CLAIM_MAP: JSON.stringify(Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((k) => [k, k]))),
      },
      /5 claims of up to 256 characters .*at most 15\d characters with these claims/,
    ],
  ])('refuses %j, naming both settings and the 4,096-byte cap', (override, worst) => {
    const message = messageOf(() => loadSyncServiceConfig({ ...base, ...override }));
    expect(message).toMatch(/^Invalid configuration: CLAIM_MAP and CLAIM_VALUE_MAX_LENGTH: /);
    expect(message).toMatch(worst);
    expect(message).toMatch(/above the cap of 4,096 bytes/);
  });

  it('the orchestrator, which reads only the stamp settings, refuses it too', () => {
    expect(
      messageOf(() =>
        loadStampReadConfig({ TABLE_NAME: 'stamps', CLAIM_VALUE_MAX_LENGTH: '2048' }),
      ),
    ).toMatch(/^Invalid configuration: CLAIM_MAP and CLAIM_VALUE_MAX_LENGTH: /);
  });
});

/** The message a loader throws for `env`, or a note that it threw nothing. */
function messageOf(load: () => unknown): string {
  try {
    load();
    return 'no error';
  } catch (error) {
    return (error as Error).message;
  }
}

// Every whole-number setting of the sync service, with its accepted range.
const WHOLE_NUMBERS: [string, number, number][] = [
  ['CRM_TIMEOUT_MS', 100, 10_000],
  ['ACTION_TIMEOUT_MS', 500, 15_000],
  ['CRM_MAX_RESPONSE_BYTES', 1_024, 16 * 1024 * 1024],
  ['CRM_BREAKER_FAILURES', 0, 1_000],
  ['CRM_BREAKER_COOLDOWN_SECONDS', 1, 3_600],
  ['CRM_RETRY_AFTER_MAX_SECONDS', 1, 3_600],
  ['CLAIM_VALUE_MAX_LENGTH', 1, 2_048],
  ['NOT_FOUND_FRESH_SECONDS', 0, 86_400],
  ['STALE_RETRY_SECONDS', 0, 86_400],
  ['STAMP_RETENTION_DAYS', 1, 3_650],
  ['SECRETS_MAX_AGE_SECONDS', 0, 86_400],
  ['RATE_LIMIT_PER_SECOND', 0, 1_000_000],
];

describe('configuration errors name the setting and what it accepts', () => {
  const serviceCases: [string, string | undefined, RegExp][] = [
    ['TABLE_NAME', undefined, /must be set/],
    ['TABLE_NAME', 'x', /must name the DynamoDB table of sync stamps/],
    ['SYNC_SIGNING_SECRET', undefined, /set SYNC_SIGNING_SECRET or SYNC_SIGNING_SECRET_ARN/],
    ['SYNC_SIGNING_SECRET', ',', /no usable secret/],
    ['CRM_URL', undefined, /must be an http\(s\) URL/],
    ['CRM_URL', 'ftp://crm', /must be an http\(s\) URL/],
    ['CRM_API_KEY', undefined, /set CRM_API_KEY or CRM_API_KEY_SECRET_ARN/],
    ...WHOLE_NUMBERS.flatMap(([name, min, max]): [string, string, RegExp][] => {
      const range = new RegExp(`must be a whole number from ${min} to ${max}$`);
      return [
        [name, 'abc', range],
        [name, '1.5', range],
        [name, String(max + 1), range],
      ];
    }),
    ['RATE_LIMIT_BURST', 'abc', /must be a whole number of at least 1$/],
    ['RATE_LIMIT_BURST', '0', /must be a whole number of at least 1$/],
    ['CRM_ID_PATH', '__proto__', /is not a usable dotted path/],
    ['CRM_MATCH_KEYS', 'phone,fax', /must list phone and\/or email/],
    ['CRM_MATCH_KEYS', 'phone,phone', /must not repeat a key/],
    ['DEFAULT_PHONE_COUNTRY', 'XX', /must be an ISO 3166 country code/],
    ['CLAIM_NAMESPACE', 'https://me.auth0.com/', /may not use Auth0's domain/],
    ['CLAIM_MAP', '{"sub":', /must be a JSON object/],
    ['SYNC_TIME_ZONE', 'Mars/Olympus', /must be an IANA time zone/],
  ];

  it.each(serviceCases)('sync service: %s=%s', (name, value, accepted) => {
    const message = messageOf(() => loadSyncServiceConfig({ ...base, [name]: value }));
    expect(message).toMatch(new RegExp(`^Invalid configuration: ${name}: `));
    expect(message).toMatch(accepted);
    expect(message).not.toMatch(/Invalid input/);
  });

  const backfillBase = { AUTH0_DOMAIN: 'acme.eu.auth0.com', AUTH0_SECRET_ARN: 'arn:aws:sm:x' };
  it.each([
    ['AUTH0_DOMAIN', undefined, /must be set/],
    ['AUTH0_DOMAIN', 'not a domain', /must be a tenant domain/],
    ['AUTH0_SECRET_ARN', undefined, /must be set/],
    ['AUTH0_WRITES_PER_SECOND', 'abc', /must be a number of calls per second above 0/],
    ['AUTH0_WRITES_PER_SECOND', '0', /must be a number of calls per second above 0/],
    ['CRM_RATE_PER_SECOND', 'abc', /must be a number of calls per second above 0/],
    ['CRM_RATE_PER_SECOND', '-1', /must be a number of calls per second above 0/],
  ] as [string, string | undefined, RegExp][])('backfill: %s=%s', (name, value, accepted) => {
    const message = messageOf(() => loadBackfillConfig({ ...backfillBase, [name]: value }));
    expect(message).toMatch(new RegExp(`^Invalid configuration: ${name}: `));
    expect(message).toMatch(accepted);
    expect(message).not.toMatch(/Invalid input/);
  });

  it('says what a schema without messages of its own accepts, never a bare "Invalid input"', () => {
    const schema = z.object({
      MODE: z.enum(['fast', 'safe']),
      SIZE: z.coerce.number().check(z.maximum(9)),
      NAME: z.string(),
    });
    expect(messageOf(() => parseSettings(schema, { MODE: 'x', SIZE: '10' }, 'configuration'))).toBe(
      'Invalid configuration: MODE: must be one of fast, safe; SIZE: must be at most 9; NAME: must be set',
    );
  });
});

describe('PORT of the local stack', () => {
  it.each([
    [undefined, 3000],
    ['', 3000],
    ['0', 0],
    ['3456', 3456],
    ['65535', 65535],
  ])('PORT=%j listens on %d', (value, port) => {
    expect(loadLocalPort({ PORT: value })).toBe(port);
  });

  it.each(['abc', '-1', '65536', '3.5', '0x10', '1e3', '3000 '])('refuses PORT=%j', (value) => {
    expect(messageOf(() => loadLocalPort({ PORT: value }))).toBe(
      'Invalid configuration: PORT: must be a whole number from 0 to 65535 (0 picks any free port)',
    );
  });
});
