import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { STAMP_TABLE } from '#shared/names.ts';

export interface TableReadiness {
  /** How long a table may stay CREATING, UPDATING or DELETING before it counts as stuck. */
  readonly stuckAfterMs?: number;
  /** The bound on each wait for the table to become ACTIVE (or to be gone). */
  readonly timeoutMs?: number;
  readonly pollMs?: number;
  /**
   * Re-create an ACTIVE table that lacks the CRM events' index (a local stack's table of an
   * older version). Only for a table of the embedded dynalite the caller owns: it drops the
   * table's items.
   */
  readonly recreateUnindexed?: boolean;
}

/**
 * Creates the sync-stamp table as the CDK stack defines it, unless it exists already, and
 * returns once it is ACTIVE (DescribeTable polling, bounded): before, a stamp written at once
 * found no table.
 *
 * A table found stuck is re-created. dynalite keeps a table's status on disk and only the
 * process that created it flips CREATING to ACTIVE, after `createTableMs`: a first start that
 * exits in between leaves a table that stays CREATING for good, which every read and write
 * answers with ResourceNotFoundException (so nothing was ever cached). Such a table holds no
 * item, since none can be written to it. DeleteTable refuses it, but UpdateTable does not check
 * the status: switching the billing mode makes it ACTIVE, then it is deleted and created anew.
 */
export async function ensureStampTable(
  client: DynamoDBClient,
  tableName: string,
  readiness: TableReadiness = {},
): Promise<'existing' | 'created' | 'recovered' | 'upgraded'> {
  const { stuckAfterMs = 1_000, timeoutMs = 10_000, pollMs = 20 } = readiness;
  const found = await settle(client, tableName, stuckAfterMs, pollMs);
  const indexed = INDEXES.every((name) => found.indexNames.includes(name));
  if (found.status === 'ACTIVE' && (indexed || !readiness.recreateUnindexed)) return 'existing';
  if (found.status === 'ACTIVE') {
    // A table of a version before CRM change events, without their indexes. dynalite accepts
    // an UpdateTable that creates an index but never builds it, so the table is made anew: its
    // items are stamps, a cache of the CRM that the next logins fill again.
    await client.send(new DeleteTableCommand({ TableName: tableName }));
    await waitFor(client, tableName, undefined, timeoutMs, pollMs);
  } else if (found.status !== undefined) {
    const payPerRequest = found.billingMode === 'PAY_PER_REQUEST';
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        ...(payPerRequest
          ? {
              BillingMode: 'PROVISIONED',
              ProvisionedThroughput: { ReadCapacityUnits: 1, WriteCapacityUnits: 1 },
            }
          : { BillingMode: 'PAY_PER_REQUEST' }),
      }),
    );
    await waitFor(client, tableName, 'ACTIVE', timeoutMs, pollMs);
    await client.send(new DeleteTableCommand({ TableName: tableName }));
    await waitFor(client, tableName, undefined, timeoutMs, pollMs);
  }
  await client.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [STAMP_TABLE, STAMP_TABLE.changeIndex].map((key) => ({
        AttributeName: key.partitionKey,
        AttributeType: 'S',
      })),
      KeySchema: [{ AttributeName: STAMP_TABLE.partitionKey, KeyType: 'HASH' }],
      // As infra/constructs/stamp-table.ts defines them: sparse, keys only.
      GlobalSecondaryIndexes: [STAMP_TABLE.changeIndex].map((index) => ({
        IndexName: index.indexName,
        KeySchema: [{ AttributeName: index.partitionKey, KeyType: 'HASH' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      })),
    }),
  );
  await waitFor(client, tableName, 'ACTIVE', timeoutMs, pollMs);
  if (found.status === 'ACTIVE') return 'upgraded';
  return found.status === undefined ? 'created' : 'recovered';
}

const INDEXES: readonly string[] = [STAMP_TABLE.changeIndex.indexName];

interface TableState {
  /** undefined: no such table. */
  readonly status: string | undefined;
  readonly billingMode: string | undefined;
  readonly indexNames: readonly string[];
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableState> {
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return {
      status: Table?.TableStatus,
      billingMode: Table?.BillingModeSummary?.BillingMode,
      indexNames: (Table?.GlobalSecondaryIndexes ?? []).flatMap((i) => i.IndexName ?? []),
    };
  } catch (error) {
    if (error instanceof ResourceNotFoundException) {
      return { status: undefined, billingMode: undefined, indexNames: [] };
    }
    throw error;
  }
}

/** The table once it is ACTIVE or gone, or as it still is after `withinMs`. */
async function settle(
  client: DynamoDBClient,
  tableName: string,
  withinMs: number,
  pollMs: number,
): Promise<TableState> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const state = await describe(client, tableName);
    if (state.status === undefined || state.status === 'ACTIVE' || Date.now() >= deadline) {
      return state;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

async function waitFor(
  client: DynamoDBClient,
  tableName: string,
  wanted: 'ACTIVE' | undefined,
  timeoutMs: number,
  pollMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status } = await describe(client, tableName);
    if (status === wanted) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `DynamoDB table ${tableName} is still ${status ?? 'missing'} after ${timeoutMs / 1000} s ` +
          `(waiting for it to be ${wanted ?? 'deleted'})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
