import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSyncApi } from '#functions/sync/build.ts';
import { loadSyncServiceConfig } from '#shared/config.ts';
import { lambdaContext } from '#stand-ins/api-gateway-events.ts';
import { type CrmServer, startCrmServer } from '#stand-ins/crm-server.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { countCommands } from '#stand-ins/local-aws-clients.ts';
import { startSecretsManagerServer } from '#stand-ins/secrets-manager-server.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import { CONTACTS, event } from '#test/support/sync-harness.ts';

/**
 * The Lambda's `warmUp` (functions/sync/handler.ts): what a new instance starts at init, before
 * its first login, and that a fault there costs the login nothing.
 */
const SIGNING_ARN = 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:warm/signing';
const CRM_KEY_ARN = 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:warm/crm-api-key';
const TABLE = 'stamps-warm-up';

let sm: Awaited<ReturnType<typeof startSecretsManagerServer>>;
let dynamo: EmbeddedDynamoDb;
let crm: CrmServer;

beforeAll(async () => {
  sm = await startSecretsManagerServer({
    [SIGNING_ARN]: TEST_SECRETS.signing,
    [CRM_KEY_ARN]: TEST_SECRETS.crmApiKey,
  });
  dynamo = await startEmbeddedDynamoDb();
  crm = await startCrmServer(CONTACTS);
  await ensureStampTable(dynamo.client(), TABLE);
});
afterAll(async () => {
  await sm.close();
  await dynamo.close();
  await crm.close();
});

function instance() {
  const dynamodb = dynamo.client();
  const commands = countCommands(dynamodb);
  const config = loadSyncServiceConfig({
    TABLE_NAME: TABLE,
    SYNC_SIGNING_SECRET_ARN: SIGNING_ARN,
    CRM_API_KEY_SECRET_ARN: CRM_KEY_ARN,
    CRM_URL: crm.url,
  });
  const handler = buildSyncApi(config, { dynamodb, secretsManager: sm.client() }, { warmUp: true });
  const login = async (user: string) => {
    const now = Date.now();
    const body = { user_id: user, phone_number: ADA_LOVELACE.phone };
    return (await handler(event({ body }, now), lambdaContext())).statusCode;
  };
  return { commands, login };
}

describe('a new sync instance, warmed up at init', () => {
  it('reads both secrets and opens the table before any login, and the first login reads neither secret again', async () => {
    const readsBefore = sm.calls.length;
    const { commands, login } = instance();
    await expect.poll(() => sm.calls.slice(readsBefore).sort()).toEqual([CRM_KEY_ARN, SIGNING_ARN]);
    await expect.poll(() => commands.get('GetItemCommand')).toBe(1);
    // Nothing is written and no CRM is asked to warm up.
    expect(commands.get('PutItemCommand') ?? 0).toBe(0);
    const asked = crm.requests.length;

    expect(await login('sms|warm-1')).toBe(200);
    expect(sm.calls.length - readsBefore).toBe(2);
    expect(crm.requests.length - asked).toBe(1);
  });

  it('with Secrets Manager down at init, the first login reads the secrets itself and is answered', async () => {
    sm.setDown(true);
    const readsBefore = sm.calls.length;
    const { login } = instance();
    try {
      await expect.poll(() => sm.calls.length - readsBefore).toBeGreaterThanOrEqual(2);
    } finally {
      sm.setDown(false);
    }
    expect(await login('sms|warm-2')).toBe(200);
  });
});
