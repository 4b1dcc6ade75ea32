import { createHash } from 'node:crypto';
import type { SQSEvent, SQSRecord } from 'aws-lambda';

/** What the Lambda event source mapping knows of one received message. */
export interface ReceivedMessage {
  readonly messageId: string;
  readonly body: string;
  /** Receives so far, this one included (SQS's ApproximateReceiveCount). */
  readonly receiveCount: number;
  readonly sentAt: number;
  readonly firstReceivedAt: number;
}

const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:111122223333:backfill-users';

/**
 * The event Lambda hands an SQS-triggered function: one record per message, attributes as
 * strings, the body as sent and its MD5. Shape from the AWS Lambda guide's example event,
 * https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html ("Example standard queue message event").
 */
export function sqsEvent(messages: readonly ReceivedMessage[]): SQSEvent {
  return { Records: messages.map(sqsRecord) };
}

/** An event of messages received for the first time, e.g. `{ id: 'm-1', body: '{...}' }`. */
export function firstDeliveryEvent(records: ReadonlyArray<{ id: string; body: string }>): SQSEvent {
  const now = Date.now();
  return sqsEvent(
    records.map(({ id, body }) => ({
      messageId: id,
      body,
      receiveCount: 1,
      sentAt: now,
      firstReceivedAt: now,
    })),
  );
}

function sqsRecord(message: ReceivedMessage): SQSRecord {
  return {
    messageId: message.messageId,
    receiptHandle: `receipt-${message.messageId}-${message.receiveCount}`,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentAt),
      SenderId: 'AROAEXAMPLE:backfill-orchestrator',
      ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt),
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(message.body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: QUEUE_ARN,
    awsRegion: 'eu-west-1',
  };
}
