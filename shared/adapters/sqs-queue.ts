import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ExportedUser, UserQueue } from '../domain/backfill.ts';

/** Users to check, ten to a SendMessageBatch; entries SQS refuses are sent once more. */
export class SqsUserQueue implements UserQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(users: readonly ExportedUser[]): Promise<void> {
    let entries = users.map((user, i) => ({ Id: String(i), MessageBody: JSON.stringify(user) }));
    for (let attempt = 0; entries.length > 0; attempt++) {
      const result = await this.client.send(
        new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }),
      );
      const failed = new Set((result.Failed ?? []).map((f) => f.Id));
      entries = entries.filter((e) => failed.has(e.Id));
      if (entries.length > 0 && attempt >= 2) {
        throw new Error(`SQS refused ${entries.length} message(s) of a batch`);
      }
    }
  }
}
