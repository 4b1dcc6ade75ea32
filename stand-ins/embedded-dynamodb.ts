import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { localAwsClientOptions } from './local-aws-clients.ts';

export interface EmbeddedDynamoDb {
  readonly endpoint: string;
  readonly client: () => DynamoDBClient;
  close(): Promise<void>;
}

/**
 * DynamoDB on this machine: dynalite, a faithful implementation of the wire protocol (conditions
 * included; no transactions, no TTL expiry). With `path` the data is kept on disk (LevelDB).
 */
export async function startEmbeddedDynamoDb(
  options: { path?: string } = {},
): Promise<EmbeddedDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...options });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    client: () => localDynamoDbClient(endpoint),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient(localAwsClientOptions(endpoint));
}
