import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ClaimFields } from '../domain/claims.ts';
import type {
  LeaseAttempt,
  LeaseRequest,
  LookupFailure,
  LookupFailureCode,
  SignatureLedger,
  StampBatch,
  StampEntry,
  StampReader,
  StampStore,
  SyncStamp,
} from '../domain/ports.ts';
import type { MatchKeyKind } from '../domain/sync-request.ts';
import { changeKey, STAMP_TABLE } from '../names.ts';
import { batchGetItems } from './dynamodb-batch-get.ts';

export interface DynamoDbStampStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Days a stamp is kept after it stops being fresh (the TTL attribute); it serves `stale`. */
  readonly retentionDays: number;
  /** How retries of unprocessed keys wait (tests pass a fake). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Partition keys of used signatures; user ids never start with `#` (sync-request.ts). */
export const SIGNATURE_KEY_PREFIX = '#signature#';

/** The key `warmUp` reads: never an item, since no user id starts with `#`. */
const WARM_UP_KEY = '#warm-up';

/**
 * One item per user: the last CRM answer and, while a lookup is in flight, its lease. The same
 * table holds the service's own items under keys no user id takes (`#...`): used signatures,
 * the backfill's run lock, handled CRM events.
 */
export class DynamoDbStampStore implements StampStore, StampReader, SignatureLedger {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly retentionSeconds: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: DynamoDbStampStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.retentionSeconds = options.retentionDays * 86_400;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * Readies the table's connection and the client's first-call work (credentials, endpoint,
   * signing, TLS) before any login needs it: a read of a key no user has (no Auth0 user id
   * starts with `#`, sync-request.ts), at half a read unit. Never rejects.
   */
  async warmUp(): Promise<void> {
    await this.client
      .send(new GetItemCommand({ TableName: this.tableName, Key: { user_id: { S: WARM_UP_KEY } } }))
      .catch(() => undefined);
  }

  async get(userId: string, options?: { consistent?: boolean }): Promise<StampEntry | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { user_id: { S: userId } },
        ConsistentRead: options?.consistent ?? false,
      }),
    );
    return Item === undefined ? undefined : toEntry(userId, Item);
  }

  async acquireLease(userId: string, lease: LeaseRequest): Promise<LeaseAttempt> {
    // Nobody else's lease is live, and no stamp answers this basis today. A forced lookup may
    // also replace today's stamp, but only once per interval: not if the stamp was written in
    // it, nor if another forced lookup was tried in it (`forced_at`, kept when one fails).
    const noLiveLease = '(attribute_not_exists(lease_until) OR lease_until <= :now)';
    const notFresh =
      '(attribute_not_exists(fresh_until) OR fresh_until <= :now OR basis <> :basis)';
    const notRecent =
      '(attribute_not_exists(synced_at) OR synced_at <= :forcedSince) AND (attribute_not_exists(forced_at) OR forced_at <= :forcedSince)';
    const values: Record<string, AttributeValue> = {
      ':owner': { S: lease.owner },
      ':until': { N: String(lease.until) },
      ':now': { N: String(lease.now) },
      ':basis': { S: lease.basis },
      // A lease on a user the CRM never answered for must not live forever.
      ':expires': { N: String(Math.ceil(lease.until / 1000) + 86_400) },
    };
    if (lease.force) values[':forcedSince'] = { N: String(lease.forcedSince) };
    const condition = lease.force
      ? `${noLiveLease} AND (${notFresh} OR (${notRecent}))`
      : `${noLiveLease} AND ${notFresh}`;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { user_id: { S: userId } },
          UpdateExpression: `SET lease_owner = :owner, lease_until = :until, ${lease.force ? 'forced_at = :now, ' : ''}expires_at = if_not_exists(expires_at, :expires)`,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { acquired: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // DynamoDB returns the item that failed the condition; a store that does not is read again.
      const current =
        error.Item === undefined
          ? await this.get(userId, { consistent: true })
          : toEntry(userId, error.Item);
      // Our own lease: the write went through but its answer was lost, and the SDK's retry
      // found it taken (by us). Refusing here would leave the user waiting on nobody.
      if (current?.lease?.owner === lease.owner) return { acquired: true };
      return { acquired: false, current };
    }
  }

  /**
   * Stamps of up to 100 users in one BatchGetItem (batchGetItems: unprocessed keys are asked
   * again; those still unread are returned as `unread`, never passed off as "no stamp").
   */
  async getMany(userIds: readonly string[]): Promise<StampBatch> {
    const stamps = new Map<string, SyncStamp>();
    const keys = [...new Set(userIds)].map((id) => ({ user_id: { S: id } }));
    const { items, unread: unreadKeys } = await batchGetItems(this.client, this.tableName, keys, {
      sleep: this.sleep,
    });
    for (const item of items) {
      const id = item.user_id?.S;
      const stamp = id === undefined ? undefined : toStamp(id, item);
      if (id !== undefined && stamp) stamps.set(id, stamp);
    }
    const unread = unreadKeys.flatMap((key) =>
      key.user_id?.S === undefined ? [] : [key.user_id.S],
    );
    return { stamps, unread };
  }

  /**
   * One PutItem, the same as before CRM change events: its condition costs no extra request. It
   * refuses when an event marked the stamp changed (`crm_changed_at`, set by
   * DynamoDbCrmEvents.invalidate) at or after the lookup began, since the CRM's answer may
   * predate the change, and when a later lookup's stamp is there. The put replaces the item,
   * so the mark goes with the next stamp written.
   */
  async put(stamp: SyncStamp): Promise<'written' | 'superseded'> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            user_id: { S: stamp.userId },
            status: { S: stamp.status },
            crm_id: stamp.crmId === null ? { NULL: true } : { S: stamp.crmId },
            // The index key (STAMP_TABLE.changeIndex): a string, or absent. crm_id cannot be the
            // key, as a not_found stamp stores it as NULL, which an index key refuses.
            ...changeKeyAttribute(stamp),
            fields: { S: JSON.stringify(stamp.fields) },
            synced_at: { N: String(stamp.syncedAt) },
            fresh_until: { N: String(stamp.freshUntil) },
            basis: { S: stamp.basis },
            ...(stamp.matchKey === undefined ? {} : { match_key: { S: stamp.matchKey } }),
            ...(stamp.ambiguousMatches === undefined
              ? {}
              : { ambiguous_matches: { N: String(stamp.ambiguousMatches) } }),
            expires_at: { N: String(Math.ceil(stamp.freshUntil / 1000) + this.retentionSeconds) },
          },
          // Nor over a stamp of a later lookup: one that outlived its lease (a slow CRM, a
          // frozen instance) must not replace a newer answer, which the put would also take
          // the change mark from.
          ConditionExpression:
            '(attribute_not_exists(crm_changed_at) OR crm_changed_at < :began) AND (attribute_not_exists(synced_at) OR synced_at <= :began)',
          ExpressionAttributeValues: { ':began': { N: String(stamp.syncedAt) } },
        }),
      );
      return 'written';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'superseded';
      throw error;
    }
  }

  /**
   * A used signature is an item of its own in the stamp table, keyed `#signature#<hash>`: a
   * key no user id can take (user ids starting with `#` are refused), written only if absent,
   * and deleted by the table's TTL once the signature could no longer be valid anyway.
   */
  async firstUse(signatureId: string, rememberUntil: number): Promise<boolean> {
    const key = { user_id: { S: `${SIGNATURE_KEY_PREFIX}${signatureId}` } };
    // Who wrote it: the SDK retries a write whose answer was lost, and the retry must not
    // mistake our own first use for a replay.
    const writer = randomUUID();
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            ...key,
            used_by: { S: writer },
            expires_at: { N: String(Math.ceil(rememberUntil / 1000)) },
          },
          ConditionExpression: 'attribute_not_exists(user_id)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item =
        error.Item ??
        (
          await this.client.send(
            new GetItemCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
          )
        ).Item;
      return item?.used_by?.S === writer;
    }
  }

  /**
   * One UpdateItem either way: a failed lookup is recorded by the write that drops its lease,
   * so the login path pays nothing for it. Only while we hold the lease: a failure reported
   * after another instance's stamp would wrongly mark that answer stale.
   */
  async releaseLease(userId: string, owner: string, failure?: LookupFailure): Promise<void> {
    const values: Record<string, AttributeValue> = { ':owner': { S: owner } };
    if (failure) {
      values[':code'] = { S: failure.code };
      values[':failedAt'] = { N: String(failure.at) };
      values[':matchKey'] = { S: failure.matchKey };
    }
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { user_id: { S: userId } },
          UpdateExpression: failure
            ? 'SET failure_code = :code, failed_at = :failedAt, match_key = :matchKey REMOVE lease_owner, lease_until'
            : 'REMOVE lease_owner, lease_until',
          ConditionExpression: 'lease_owner = :owner',
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      // Someone else's lease by now (ours expired): theirs is not ours to drop.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}

function changeKeyAttribute(stamp: SyncStamp): Record<string, AttributeValue> {
  const key =
    stamp.crmId !== null
      ? changeKey({ crmId: stamp.crmId })
      : stamp.matchHash !== undefined
        ? changeKey({ matchHash: stamp.matchHash })
        : undefined;
  return key === undefined ? {} : { [STAMP_TABLE.changeIndex.partitionKey]: { S: key } };
}

function toEntry(userId: string, item: Record<string, AttributeValue>): StampEntry {
  const leaseUntil = item.lease_until?.N;
  const leaseOwner = item.lease_owner?.S;
  const failureCode = item.failure_code?.S;
  const failedAt = item.failed_at?.N;
  return {
    stamp: toStamp(userId, item),
    lease:
      leaseUntil !== undefined && leaseOwner !== undefined
        ? { owner: leaseOwner, until: Number(leaseUntil) }
        : undefined,
    lastFailure:
      failureCode !== undefined && failedAt !== undefined
        ? { code: failureCode as LookupFailureCode, at: Number(failedAt) }
        : undefined,
    matchKey: toMatchKeyKind(item.match_key?.S),
  };
}

function toMatchKeyKind(value: string | undefined): MatchKeyKind | undefined {
  return value === 'phone' || value === 'email' ? value : undefined;
}

function toStamp(userId: string, item: Record<string, AttributeValue>): SyncStamp | undefined {
  const status = item.status?.S;
  const syncedAt = item.synced_at?.N;
  const freshUntil = item.fresh_until?.N;
  if ((status !== 'synced' && status !== 'not_found') || !syncedAt || !freshUntil) return;
  return {
    userId,
    status,
    crmId: item.crm_id?.S ?? null,
    fields: parseFields(item.fields?.S),
    syncedAt: Number(syncedAt),
    freshUntil: Number(freshUntil),
    basis: item.basis?.S ?? '',
    ...(status === 'not_found' && item.ambiguous_matches?.N
      ? { ambiguousMatches: Number(item.ambiguous_matches.N) }
      : {}),
  };
}

function parseFields(text: string | undefined): ClaimFields {
  if (text === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as ClaimFields) : {};
  } catch {
    return {};
  }
}
