import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqsUserQueue } from '#shared/adapters/sqs-queue.ts';
import type { ExportedUser } from '#shared/domain/ports.ts';
import { generatedPhone } from '#stand-ins/demo-data.ts';
import { startSqsServer } from '#stand-ins/sqs-server.ts';

let sqs: Awaited<ReturnType<typeof startSqsServer>>;
let client: SQSClient;
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/111122223333/backfill-users';

beforeEach(async () => {
  sqs = await startSqsServer();
  client = sqs.client();
});

afterEach(async () => {
  client.destroy();
  await sqs.close();
});

const users: ExportedUser[] = Array.from({ length: 10 }, (_, i) => ({
  user_id: `sms|user-${i}`,
  phone_number: generatedPhone(i),
}));

describe('the SQS queue the orchestrator fills', () => {
  it('sends a batch of ten users as one SendMessageBatch, each message one exported user', async () => {
    await new SqsUserQueue(client, QUEUE_URL, async () => {}).send(users);
    expect(sqs.received).toHaveLength(1);
    expect(sqs.received[0]?.map((e) => JSON.parse(e.MessageBody))).toEqual(users);
  });

  it('sends the entries SQS refused once more, and only those', async () => {
    sqs.refuseWith((entry, call) =>
      call === 1 && (entry.Id === '3' || entry.Id === '7')
        ? { Code: 'InternalError', SenderFault: false }
        : undefined,
    );
    await new SqsUserQueue(client, QUEUE_URL, async () => {}).send(users);
    expect(sqs.received.map((batch) => batch.length)).toEqual([10, 2]);
    expect(sqs.received[1]?.map((e) => JSON.parse(e.MessageBody).user_id)).toEqual([
      'sms|user-3',
      'sms|user-7',
    ]);
  });

  it('fails (so the step is retried from its last `next`) when SQS keeps refusing, or refuses as the sender’s fault', async () => {
    sqs.refuseWith((entry) =>
      entry.Id === '5' ? { Code: 'InternalError', SenderFault: false } : undefined,
    );
    const queue = new SqsUserQueue(client, QUEUE_URL, async () => {});
    await expect(queue.send(users)).rejects.toThrow(/refused 1 message\(s\) of a batch 3 times/);
    expect(sqs.received).toHaveLength(3);

    sqs.refuseWith(() => ({ Code: 'InvalidMessageContents', SenderFault: true }));
    await expect(queue.send(users)).rejects.toThrow(/InvalidMessageContents/);
    expect(sqs.received).toHaveLength(4);
  });
});
