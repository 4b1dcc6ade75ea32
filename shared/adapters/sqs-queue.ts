import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ExportedUser, UserQueue } from '../domain/ports.ts';

const ATTEMPTS = 3;

/**
 * Users to check, ten to a SendMessageBatch. Entries SQS refuses for its own reasons are sent
 * again (twice, after a short pause); one refused as the sender's fault, or still refused,
 * fails the call, so the orchestrator's step is retried from its last `next` (users queued
 * twice are harmless: the backfill is idempotent).
 */
export class SqsUserQueue implements UserQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
    /** SQS DelaySeconds of every message (0 to 900): how long it stays out of the workers' reach. */
    private readonly delaySeconds = 0,
  ) {}

  async send(users: readonly ExportedUser[]): Promise<void> {
    if (users.length === 0) return;
    if (users.length > 10) throw new Error('SQS batches hold at most 10 messages');
    let entries = users.map((user, i) => ({
      Id: String(i),
      MessageBody: JSON.stringify(user),
      ...(this.delaySeconds > 0 ? { DelaySeconds: this.delaySeconds } : {}),
    }));
    for (let attempt = 1; ; attempt++) {
      const result = await this.client.send(
        new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }),
      );
      const failed = result.Failed ?? [];
      if (failed.length === 0) return;
      // The code only: SQS's message could quote the entry.
      const senderFault = failed.find((f) => f.SenderFault);
      if (senderFault) {
        throw new Error(`SQS refused a message of a batch: ${senderFault.Code ?? 'unknown'}`);
      }
      if (attempt >= ATTEMPTS) {
        throw new Error(`SQS refused ${failed.length} message(s) of a batch ${ATTEMPTS} times`);
      }
      const ids = new Set(failed.map((f) => f.Id));
      entries = entries.filter((e) => ids.has(e.Id));
      await this.sleep(100 * 2 ** attempt);
    }
  }
}
