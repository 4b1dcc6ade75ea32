import { describe, expect, it } from 'vitest';
import { loadSyncServiceConfig } from '#shared/config.ts';

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
