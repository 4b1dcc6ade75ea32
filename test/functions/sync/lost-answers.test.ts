import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_PATH_AWS_CLIENT_OPTIONS } from '#functions/sync/aws-clients.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { localAwsEndpoint } from '#stand-ins/local-aws-clients.ts';
import { captureLogLines } from '#test/support/log-lines.ts';
import { type SyncHarness, startSyncHarness } from '#test/support/sync-harness.ts';

/**
 * A DynamoDB write that is applied but whose answer is lost (a timeout on the way back): the
 * SDK, configured as the sync Lambda is (two tries), sends it again, and the retry meets its
 * own first attempt. Neither must be taken for someone else's.
 */
function loseFirstAnswer(client: DynamoDBClient, commandName: string): () => number {
  let lost = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (String(context.commandName) === commandName && lost === 0) {
        lost++;
        // Retried by the SDK like its own request timeout.
        throw Object.assign(new Error('the answer was lost'), { name: 'TimeoutError' });
      }
      return result;
    },
    // Inside the retry loop: each try passes here, after the request was sent.
    { step: 'deserialize', name: 'loseFirstAnswer' },
  );
  return () => lost;
}

let h: SyncHarness;
/** A client of the harness's DynamoDB configured as the sync Lambda's (two tries). */
const clientWithRetries = () =>
  new DynamoDBClient({ ...LOGIN_PATH_AWS_CLIENT_OPTIONS, ...localAwsEndpoint(h.dynamoEndpoint) });

beforeAll(async () => {
  h = await startSyncHarness();
});
afterAll(() => h.close());

describe('a DynamoDB write whose answer is lost, retried by the SDK', () => {
  it('the lease: the login still asks the CRM, instead of waiting on its own lease', async () => {
    const client = clientWithRetries();
    const lost = loseFirstAnswer(client, 'UpdateItemCommand');
    const before = h.crm.requests.length;
    const res = await h.instance(client).invoke({
      body: { user_id: 'sms|lost-lease', phone_number: ADA_LOVELACE.phone },
    });
    expect(lost()).toBe(1);
    expect(res.body).toMatchObject({ status: 'synced', crm_id: ADA_LOVELACE.id });
    expect(h.crm.requests.length).toBe(before + 1);
    // Through the lease, not around a store fault: the stamp was written.
    const again = await h.invoke({
      body: { user_id: 'sms|lost-lease', phone_number: ADA_LOVELACE.phone },
    });
    expect(again.body.status).toBe('cached');
  });

  it('the used-signature record: a first forced request is not taken for its own replay', async () => {
    const user = 'sms|lost-ledger';
    await h.invoke({ body: { user_id: user, phone_number: ADA_LOVELACE.phone } });
    h.clock.now += 120_000;
    const client = clientWithRetries();
    const lost = loseFirstAnswer(client, 'PutItemCommand');
    const before = h.crm.requests.length;
    const { result, lines } = await captureLogLines(() =>
      h.instance(client).invoke({
        body: { user_id: user, phone_number: ADA_LOVELACE.phone, force: true },
      }),
    );
    expect(lost()).toBe(1);
    expect(result.body.status).toBe('synced');
    expect(h.crm.requests.length).toBe(before + 1);
    const line = lines.find((l) => l.message === 'request');
    expect(line).toMatchObject({ forced: true });
    expect(line?.replayed).toBeUndefined();
  });
});
