import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { CrmEventLedger, LinkedStamps } from '../domain/ports.ts';
import { STAMP_TABLE } from '../names.ts';
import { batchGetItems } from './dynamodb-batch-get.ts';

/** Partition keys of handled CRM events; user ids never start with `#` (sync-request.ts). */
export const CRM_EVENT_KEY_PREFIX = '#crm-event#';

/**
 * At most this many users per CRM id or match-key hash: one contact is one person, and a few
 * Auth0 users (an SMS and an email login) at most. More is a CRM id or number shared by
 * unrelated records, whose re-sync must not become a flood; the rest are settled by their next
 * login's normal lookup or the next backfill.
 */
export const MAX_USERS_PER_KEY = 1_000;

/**
 * CRM change events on the stamp table: the handled event ids (items of their own, keyed
 * `#crm-event#<hash of the id>`, deleted by the table's TTL once they need not be remembered),
 * and the stamps an event concerns, found through the table's two sparse indexes.
 */
export class DynamoDbCrmEvents implements CrmEventLedger, LinkedStamps {
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    sleep?: (ms: number) => Promise<void>,
  ) {
    this.sleep = sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * One consistent BatchGetItem for the request's (at most 100) ids. An id left unread after
   * the retries fails the request: calling it new would handle it twice, which is harmless,
   * but calling it handled would lose it.
   */
  async handled(ids: readonly string[]): Promise<ReadonlySet<string>> {
    const byKey = new Map(ids.map((id) => [eventKey(id), id]));
    const keys = [...byKey.keys()].map((key) => ({ [STAMP_TABLE.partitionKey]: { S: key } }));
    const { items, unread } = await batchGetItems(this.client, this.tableName, keys, {
      consistent: true,
      sleep: this.sleep,
    });
    if (unread.length > 0) throw new Error(`${unread.length} event id(s) could not be read`);
    const handled = new Set<string>();
    for (const item of items) {
      const id = byKey.get(item[STAMP_TABLE.partitionKey]?.S ?? '');
      if (id !== undefined) handled.add(id);
    }
    return handled;
  }

  async recordHandled(id: string, until: number): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          [STAMP_TABLE.partitionKey]: { S: eventKey(id) },
          handled_at: { N: String(Date.now()) },
          [STAMP_TABLE.ttlAttribute]: { N: String(Math.ceil(until / 1000)) },
        },
      }),
    );
  }

  usersLinkedTo(crmId: string): Promise<readonly string[]> {
    return this.usersBy(STAMP_TABLE.linkIndex, crmId);
  }

  usersMatching(matchHash: string): Promise<readonly string[]> {
    return this.usersBy(STAMP_TABLE.matchIndex, matchHash);
  }

  /**
   * Ends the stamp's freshness at `at` and marks it changed then, so that a lookup begun before
   * cannot write over it (DynamoDbStampStore.put). Only an existing stamp: the index is
   * eventually consistent, and a user it still lists may have no item left.
   */
  async invalidate(userId: string, at: number): Promise<'invalidated' | 'no_stamp'> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [STAMP_TABLE.partitionKey]: { S: userId } },
          UpdateExpression: 'SET fresh_until = :at, crm_changed_at = :at',
          ConditionExpression: 'attribute_exists(synced_at)',
          ExpressionAttributeValues: { ':at': { N: String(at) } },
        }),
      );
      return 'invalidated';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'no_stamp';
      throw error;
    }
  }

  /** The user ids an index lists under one key, page by page, up to MAX_USERS_PER_KEY. */
  private async usersBy(
    index: { readonly indexName: string; readonly partitionKey: string },
    value: string,
  ): Promise<string[]> {
    const users: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.indexName,
          KeyConditionExpression: '#key = :value',
          ExpressionAttributeNames: { '#key': index.partitionKey },
          ExpressionAttributeValues: { ':value': { S: value } },
          Limit: MAX_USERS_PER_KEY - users.length,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const id = item[STAMP_TABLE.partitionKey]?.S;
        if (id !== undefined) users.push(id);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined && users.length < MAX_USERS_PER_KEY);
    return users;
  }
}

/** An event's item key: a hash, so the CRM's ids (any text up to 256 characters) fit any key. */
function eventKey(id: string): string {
  return `${CRM_EVENT_KEY_PREFIX}${createHash('sha256').update(id).digest('base64url')}`;
}
