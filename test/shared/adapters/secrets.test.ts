import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSyncApi } from '#functions/sync/build.ts';
import { CachedValue } from '#shared/adapters/cached-value.ts';
import { secretReader } from '#shared/adapters/secrets-manager.ts';
import { loadSyncServiceConfig } from '#shared/config.ts';
import { lambdaContext } from '#stand-ins/api-gateway-events.ts';
import { startCrmServer } from '#stand-ins/crm-server.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { startSecretsManagerServer } from '#stand-ins/secrets-manager-server.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import { CONTACTS, event } from '#test/support/sync-harness.ts';

const SIGNING_ARN = 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:crm-sync/signing';
const CRM_KEY_ARN = 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:crm-sync/crm-api-key';
const ROTATED = 'test-signing-secret-rotated-4c0d';

let sm: Awaited<ReturnType<typeof startSecretsManagerServer>>;
beforeAll(async () => {
  sm = await startSecretsManagerServer({
    [SIGNING_ARN]: JSON.stringify({ current: TEST_SECRETS.signing }),
    [CRM_KEY_ARN]: TEST_SECRETS.crmApiKey,
  });
});
afterAll(() => sm.close());

describe('secrets read through the cache', () => {
  it('are read once per max age, then again, so a rotation is picked up without a redeploy', async () => {
    let now = 0;
    const client = sm.client();
    const id = 'arn:test:rotating';
    sm.set(id, 'one');
    const secret = new CachedValue(secretReader(client, id), {
      maxAgeMs: 60_000,
      clock: () => now,
    });
    expect(await secret.get()).toBe('one');
    sm.set(id, 'two');
    now = 59_000;
    expect(await secret.get()).toBe('one');
    now = 61_000;
    expect(await secret.get()).toBe('two');
    expect(sm.calls.filter((c) => c === id)).toHaveLength(2);
  });

  it('keep serving the last value while Secrets Manager is down', async () => {
    let now = 0;
    const id = 'arn:test:outage';
    sm.set(id, 'kept');
    const served: unknown[] = [];
    const secret = new CachedValue(secretReader(sm.client(), id), {
      maxAgeMs: 1_000,
      clock: () => now,
      onStaleServed: (e) => served.push(e),
    });
    await secret.get();
    sm.setDown(true);
    now = 5_000;
    try {
      expect(await secret.get()).toBe('kept');
      expect(served).toHaveLength(1);
    } finally {
      sm.setDown(false);
    }
  });

  it('fail clearly when the secret was created but never set', async () => {
    const id = 'arn:test:empty';
    sm.set(id, '');
    const secret = new CachedValue(secretReader(sm.client(), id), { maxAgeMs: 1_000 });
    await expect(secret.get()).rejects.toThrow(/no string value yet/);
  });
});

describe('the deployed wiring (secrets by ARN)', () => {
  it('verifies signatures and calls the CRM with secrets from Secrets Manager, and follows a rotation', async () => {
    const dynamo = await startEmbeddedDynamoDb();
    const crm = await startCrmServer(CONTACTS);
    const dynamodb = dynamo.client();
    await ensureStampTable(dynamodb, 'stamps-sm');
    let now = Date.parse('2026-11-26T08:15:00Z');
    const handler = buildSyncApi(
      loadSyncServiceConfig({
        TABLE_NAME: 'stamps-sm',
        SYNC_SIGNING_SECRET_ARN: SIGNING_ARN,
        CRM_API_KEY_SECRET_ARN: CRM_KEY_ARN,
        CRM_URL: crm.url,
        SECRETS_MAX_AGE_SECONDS: '300',
      }),
      { dynamodb, secretsManager: sm.client(), clock: () => now },
    );
    const call = async (secret: string, user: string) =>
      (
        await handler(
          event({ body: { user_id: user, phone_number: ADA_LOVELACE.phone }, secret }, now),
          lambdaContext(),
        )
      ).statusCode;
    try {
      expect(await call(TEST_SECRETS.signing, 'sms|sm-1')).toBe(200);
      expect(crm.requests.at(-1)?.headers['x-api-key']).toBe(TEST_SECRETS.crmApiKey);

      // Rotation step 1: the new secret becomes current, the old one stays as previous.
      sm.set(SIGNING_ARN, JSON.stringify({ current: ROTATED, previous: TEST_SECRETS.signing }));
      expect(await call(ROTATED, 'sms|sm-2')).toBe(401);
      now += 301_000;
      expect(await call(ROTATED, 'sms|sm-3')).toBe(200);
      expect(await call(TEST_SECRETS.signing, 'sms|sm-4')).toBe(200);
    } finally {
      dynamodb.destroy();
      await dynamo.close();
      await crm.close();
    }
  });
});
