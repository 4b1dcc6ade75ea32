import { createHash } from 'node:crypto';
import { SQSClient } from '@aws-sdk/client-sqs';
import { startAwsJsonServer } from './aws-json-server.ts';
import { localAwsClientOptions } from './local-aws-clients.ts';

type BatchEntry = { Id: string; MessageBody: string };
type Refusal = { Code: string; SenderFault: boolean };

/**
 * SQS's SendMessageBatch over its wire protocol (AWS JSON 1.0, with the MD5 of each body the
 * SDK checks), so the real SQS client is exercised. `refuseWith` decides which entries fail, as
 * SQS reports a partial batch failure: HTTP 200 with the entry in `Failed`.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
 */
export async function startSqsServer() {
  const received: BatchEntry[][] = [];
  let refuse: (entry: { Id: string }, call: number) => Refusal | undefined = () => undefined;
  const server = await startAwsJsonServer('1.0', (target, input) => {
    if (target !== 'AmazonSQS.SendMessageBatch') {
      return {
        status: 400,
        body: { __type: 'com.amazonaws.sqs#InvalidAction', message: 'unsupported' },
      };
    }
    const entries = input.Entries as BatchEntry[];
    received.push(entries);
    const Successful: unknown[] = [];
    const Failed: unknown[] = [];
    for (const entry of entries) {
      const refusal = refuse(entry, received.length);
      if (refusal) {
        Failed.push({ Id: entry.Id, ...refusal, Message: 'refused' });
        continue;
      }
      Successful.push({
        Id: entry.Id,
        MessageId: `msg-${received.length}-${entry.Id}`,
        MD5OfMessageBody: createHash('md5').update(entry.MessageBody).digest('hex'),
      });
    }
    return { status: 200, body: { Successful, Failed } };
  });
  return {
    received,
    refuseWith(next: typeof refuse) {
      refuse = next;
    },
    client: () => new SQSClient(localAwsClientOptions(server.endpoint)),
    close: server.close,
  };
}
