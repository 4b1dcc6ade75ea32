import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { afterAll, describe, expect, it } from 'vitest';
import { localDynamoDbClient, startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { leaveTableCreating } from '#test/support/stuck-table.ts';

const TABLE = 'crm-sync-stamps';
const root = mkdtempSync(join(tmpdir(), 'crm-sync-table-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const folder = () => join(root, `dynamodb-${++folders}`);

const stamp = { user_id: { S: 'sms|table-test' }, crm_id: { S: 'C-1' } };

async function writeAndRead(client: DynamoDBClient) {
  await client.send(new PutItemCommand({ TableName: TABLE, Item: stamp }));
  const { Item } = await client.send(
    new GetItemCommand({ TableName: TABLE, Key: { user_id: stamp.user_id } }),
  );
  return Item;
}

/** The local stack's dynalite (startEmbeddedDynamoDb) on a folder, for the length of `use`. */
async function onFolder<T>(path: string, use: (client: DynamoDBClient) => Promise<T>) {
  const dynamo = await startEmbeddedDynamoDb({ path });
  const client = dynamo.client();
  try {
    return await use(client);
  } finally {
    client.destroy();
    await dynamo.close();
  }
}

const status = async (client: DynamoDBClient) =>
  (await client.send(new DescribeTableCommand({ TableName: TABLE }))).Table?.TableStatus;

describe('ensureStampTable', () => {
  it('finds what a start killed before ACTIVE leaves: a table still CREATING after a restart, refusing every write', async () => {
    const path = folder();
    await leaveTableCreating(path, TABLE);
    await onFolder(path, async (client) => {
      expect(await status(client)).toBe('CREATING');
      await expect(writeAndRead(client)).rejects.toThrow(/Requested resource not found/);
    });
  });

  it('re-creates a table left CREATING, so stamps are written and read again, and it stays ACTIVE', async () => {
    const path = folder();
    await leaveTableCreating(path, TABLE);
    await onFolder(path, async (client) => {
      expect(await ensureStampTable(client, TABLE)).toBe('recovered');
      expect(await status(client)).toBe('ACTIVE');
      expect(await writeAndRead(client)).toEqual(stamp);
    });
    await onFolder(path, async (client) => {
      expect(await ensureStampTable(client, TABLE)).toBe('existing');
      expect(await writeAndRead(client)).toEqual(stamp);
    });
  });

  it('keeps an ACTIVE table and the stamps in it across restarts', async () => {
    const path = folder();
    await onFolder(path, async (client) => {
      await ensureStampTable(client, TABLE);
      await writeAndRead(client);
    });
    await onFolder(path, async (client) => {
      await ensureStampTable(client, TABLE);
      const { Item } = await client.send(
        new GetItemCommand({ TableName: TABLE, Key: { user_id: stamp.user_id } }),
      );
      expect(Item).toEqual(stamp);
    });
  });

  it("re-creates a table of an older version, without the CRM events' indexes, once", async () => {
    const path = folder();
    await onFolder(path, async (client) => {
      // The table as versions before CRM change events made it: the key alone.
      await client.send(
        new CreateTableCommand({
          TableName: TABLE,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'user_id', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'user_id', KeyType: 'HASH' }],
        }),
      );
      while ((await status(client)) !== 'ACTIVE') await new Promise((r) => setTimeout(r, 10));
    });
    await onFolder(path, async (client) => {
      // Only when asked to: someone else's table is never dropped.
      expect(await ensureStampTable(client, TABLE)).toBe('existing');
      expect(await ensureStampTable(client, TABLE, { recreateUnindexed: true })).toBe('upgraded');
      const { Table } = await client.send(new DescribeTableCommand({ TableName: TABLE }));
      expect(Table?.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['by-change-key']);
      expect(await writeAndRead(client)).toEqual(stamp);
    });
    await onFolder(path, async (client) => {
      expect(await ensureStampTable(client, TABLE)).toBe('existing');
    });
  });

  it('returns once the table it created is ACTIVE, so the first stamp is written', async () => {
    // A dynalite that keeps new tables CREATING for a while, as DynamoDB itself does.
    const server = dynalite({ createTableMs: 300 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = localDynamoDbClient(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    );
    try {
      await ensureStampTable(client, TABLE);
      expect(await status(client)).toBe('ACTIVE');
      expect(await writeAndRead(client)).toEqual(stamp);
    } finally {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('gives up on a table that never becomes ACTIVE, naming the table and its status', async () => {
    // Answers CREATING to every DescribeTable and accepts every other call.
    const stuck = {
      send: async (command: object) =>
        command instanceof DescribeTableCommand
          ? {
              Table: {
                TableStatus: 'CREATING',
                BillingModeSummary: { BillingMode: 'PAY_PER_REQUEST' },
              },
            }
          : {},
    } as unknown as DynamoDBClient;
    await expect(
      ensureStampTable(stuck, TABLE, { stuckAfterMs: 20, timeoutMs: 50, pollMs: 5 }),
    ).rejects.toThrow(/DynamoDB table crm-sync-stamps is still CREATING after 0.05 s/);
  });
});
