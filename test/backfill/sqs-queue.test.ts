import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqsUserQueue } from '#shared/adapters/sqs-queue.ts';
import type { ExportedUser } from '#shared/domain/backfill.ts';

/**
 * SQS's SendMessageBatch over its wire protocol (AWS JSON 1.0, with the MD5 of each body the
 * SDK checks), so the real SQS client is exercised. `refuse` decides which entries fail.
 */
async function startSqsServer() {
  const received: Array<Array<{ Id: string; MessageBody: string }>> = [];
  let refuse: (
    entry: { Id: string },
    call: number,
  ) => { Code: string; SenderFault: boolean } | undefined = () => undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(body));
      };
      if (req.headers['x-amz-target'] !== 'AmazonSQS.SendMessageBatch') {
        return reply(400, { __type: 'com.amazonaws.sqs#InvalidAction', message: 'unsupported' });
      }
      const { Entries } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        Entries: Array<{ Id: string; MessageBody: string }>;
      };
      received.push(Entries);
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      for (const entry of Entries) {
        const refusal = refuse(entry, received.length);
        if (refusal) {
          Failed.push({ Id: entry.Id, ...refusal, Message: 'refused' });
        } else {
          Successful.push({
            Id: entry.Id,
            MessageId: `msg-${received.length}-${entry.Id}`,
            MD5OfMessageBody: createHash('md5').update(entry.MessageBody).digest('hex'),
          });
        }
      }
      return reply(200, { Successful, Failed });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    received,
    refuseWith(next: typeof refuse) {
      refuse = next;
    },
    client: () =>
      new SQSClient({
        endpoint: `http://127.0.0.1:${port}`,
        region: 'eu-west-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 1,
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

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
  phone_number: `+1555000${String(i).padStart(4, '0')}`,
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
