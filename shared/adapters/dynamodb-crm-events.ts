import { createHash } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { CrmEventLedger, LinkedStamps, ListedUsers } from '../domain/ports.ts';
import { CRM_EVENT_KEY_PREFIX, changeKey, STAMP_TABLE } from '../names.ts';
import { batchGetItems } from './dynamodb-batch-get.ts';

/**
 * At most this many users per CRM id or match-key hash: one contact is one person, and a few
 * Auth0 users (an SMS and an email login) at most. More is a CRM id or number shared by
 * unrelated records, whose re-sync must not become a flood: the others keep their stamp and
 * profile until the sync day ends (counted, `keys_truncated`). It bounds a request's work:
 * 100 events of at most 4 keys each, 10,000 stamps at worst.
 */
export const MAX_USERS_PER_KEY = 25;

/**
 * CRM change events on the stamp table: the handled event ids (items of their own, keyed
 * `#crm-event#<hash of the id>`, deleted by the table's TTL once they need not be remembered),
 * and the stamps an event concerns, found through the table's sparse index (STAMP_TABLE.changeIndex).
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

  usersLinkedTo(crmId: string): Promise<ListedUsers> {
    return this.usersBy(changeKey({ crmId }));
  }

  usersMatching(matchHash: string): Promise<ListedUsers> {
    return this.usersBy(changeKey({ matchHash }));
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

  /** The user ids the index lists under one key, page by page, up to MAX_USERS_PER_KEY. */
  private async usersBy(value: string | undefined): Promise<ListedUsers> {
    const index = STAMP_TABLE.changeIndex;
    const users: string[] = [];
    // A key too long to index was never written: nobody is listed under it.
    if (value === undefined) return { users, more: false };
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.indexName,
          KeyConditionExpression: '#key = :value',
          ExpressionAttributeNames: { '#key': index.partitionKey },
          ExpressionAttributeValues: { ':value': { S: value } },
          // One beyond the cap: whether there are more is worth knowing (and counting).
          Limit: MAX_USERS_PER_KEY + 1 - users.length,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const id = item[STAMP_TABLE.partitionKey]?.S;
        if (id !== undefined) users.push(id);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined && users.length <= MAX_USERS_PER_KEY);
    return { users: users.slice(0, MAX_USERS_PER_KEY), more: users.length > MAX_USERS_PER_KEY };
  }
}

/** An event's item key: a hash, so the CRM's ids (any text up to 256 characters) fit any key. */
function eventKey(id: string): string {
  return `${CRM_EVENT_KEY_PREFIX}${createHash('sha256').update(id).digest('base64url')}`;
}
