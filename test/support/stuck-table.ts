import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { localDynamoDbClient } from '#stand-ins/embedded-dynamodb.ts';

// dynalite on `path`, in a process of its own, slow to make tables ACTIVE (an hour).
const SLOW_DYNALITE = `
const server = require('dynalite')({ path: process.argv[1], createTableMs: 3_600_000 });
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

/**
 * What a first `npm start` that dies between CreateTable and ACTIVE leaves on disk: dynalite
 * stores the table as CREATING, and only the timer of the process that created it would have
 * made it ACTIVE. The process is killed (SIGKILL) while the table is CREATING.
 */
export async function leaveTableCreating(path: string, tableName: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', SLOW_DYNALITE, path], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  try {
    const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
    const client = localDynamoDbClient(`http://127.0.0.1:${chunk.toString().trim()}`);
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'user_id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'user_id', KeyType: 'HASH' }],
      }),
    );
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    client.destroy();
    if (Table?.TableStatus !== 'CREATING') {
      throw new Error(`expected a CREATING table, found ${Table?.TableStatus}`);
    }
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}
