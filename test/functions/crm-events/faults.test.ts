import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCrmEventsApi } from '#functions/crm-events/build.ts';
import { DynamoDbStampStore } from '#shared/adapters/dynamodb-stamps.ts';
import { loadCrmEventsConfig } from '#shared/crm-events-config.ts';
import { lambdaContext } from '#stand-ins/api-gateway-events.ts';
import { crmWebhookEvent } from '#stand-ins/crm-webhook.ts';
import { ADA_LOVELACE, GRACE_HOPPER } from '#stand-ins/demo-data.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { captureLogLines } from '#test/support/log-lines.ts';

/**
 * Faults while events are handled: DynamoDB failing half-way. The CRM is answered 500 (so it
 * sends the request again), the log line names the fault and nothing personal, and the
 * redelivery does what was left: nothing is lost, nothing is done twice that was done.
 */
const SECRET = 'faults-webhook-secret';
const TABLE = 'crm-events-faults';
let dynamo: EmbeddedDynamoDb;
let failUpdatesOf: string | undefined;

beforeAll(async () => {
  dynamo = await startEmbeddedDynamoDb();
  await ensureStampTable(dynamo.client(), TABLE);
});
afterAll(() => dynamo?.close());

function api() {
  const dynamodb = dynamo.client();
  dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      const key = (args.input as { Key?: { user_id?: { S?: string } } }).Key?.user_id?.S;
      if (context.commandName === 'UpdateItemCommand' && key === failUpdatesOf) {
        throw Object.assign(new Error('throttled'), {
          name: 'ProvisionedThroughputExceededException',
        });
      }
      return next(args);
    },
    { step: 'initialize', name: 'failUpdates' },
  );
  const config = loadCrmEventsConfig({
    TABLE_NAME: TABLE,
    CRM_WEBHOOK_SECRET: SECRET,
    MATCH_KEY_HASH_SECRET: 'faults-hash-key',
  });
  return {
    dynamodb,
    handler: buildCrmEventsApi(config, {
      dynamodb,
      logger: new Logger({ serviceName: 'crm-events-faults' }),
    }),
  };
}

async function post(handler: ReturnType<typeof api>['handler'], events: unknown[]) {
  const answer = await handler(crmWebhookEvent(SECRET, events), lambdaContext());
  return { status: answer.statusCode, body: JSON.parse(String(answer.body)) };
}

describe('POST /v1/crm-events when DynamoDB fails', () => {
  it('answers 500, records only the events it finished, and the redelivery finishes the rest', async () => {
    const { dynamodb, handler } = api();
    const stamps = new DynamoDbStampStore({
      client: dynamodb,
      tableName: TABLE,
      retentionDays: 35,
    });
    const now = Date.now();
    for (const [userId, crmId] of [
      ['sms|faults-ada', ADA_LOVELACE.id],
      ['sms|faults-grace', GRACE_HOPPER.id],
    ] as const) {
      await stamps.put({
        userId,
        status: 'synced',
        crmId,
        fields: {},
        syncedAt: now - 1_000,
        freshUntil: now + 3_600_000,
        basis: 'b',
      });
    }
    const events = [
      {
        id: 'faults-1',
        type: 'contact.updated',
        crm_id: ADA_LOVELACE.id,
        phone_number: ADA_LOVELACE.phone,
      },
      {
        id: 'faults-2',
        type: 'contact.updated',
        crm_id: GRACE_HOPPER.id,
        email: GRACE_HOPPER.email,
      },
    ];

    failUpdatesOf = 'sms|faults-grace';
    const { result: failed, lines } = await captureLogLines(() => post(handler, events));
    expect(failed).toEqual({
      status: 500,
      body: { error: { code: 'internal_error', message: 'the service failed; try again' } },
    });
    const line = lines.find((l) => l.message === 'request');
    expect(line).toMatchObject({
      outcome: 'internal_error',
      http_status: 500,
      route: '/v1/crm-events',
      fault: 'ProvisionedThroughputExceededException',
      CrmEventRequests: 1,
    });
    // Ada's event was done; Grace's stamp still answers today until the redelivery.
    expect((await stamps.get('sms|faults-ada'))?.stamp?.freshUntil).toBeLessThanOrEqual(Date.now());
    expect((await stamps.get('sms|faults-grace'))?.stamp?.freshUntil).toBe(now + 3_600_000);

    failUpdatesOf = undefined;
    const redelivered = await post(handler, events);
    expect(redelivered).toEqual({ status: 202, body: { accepted: 1, duplicates: 1, ignored: 0 } });
    expect((await stamps.get('sms|faults-grace'))?.stamp?.freshUntil).toBeLessThanOrEqual(
      Date.now(),
    );
  });
});
