import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { buildSyncApi } from '#functions/sync/wiring.ts';
import { loadSyncServiceConfig } from '#shared/config.ts';
import { serveApiGateway } from './api-gateway.ts';
import { DEMO_CRM_API_KEY, startDemoCrm } from './demo-crm.ts';
import { DEFAULT_DATA_DIR, localSigningSecret } from './dev-secret.ts';
import { startEmbeddedDynamoDb } from './embedded-dynamodb.ts';
import { ensureStampTable } from './stamp-table.ts';

const TABLE_NAME = 'crm-sync-stamps';

/** `npm start`: the sync handler on 127.0.0.1 with embedded DynamoDB and a demo CRM. */
async function main(): Promise<void> {
  const env = process.env;
  const port = Number(env.PORT ?? 3000);
  const dataDir = resolve(env.LOCAL_DATA_DIR ?? DEFAULT_DATA_DIR);
  const secret = localSigningSecret(env, dataDir);

  const demoCrm = env.CRM_URL
    ? undefined
    : await startDemoCrm({ apiKey: env.CRM_API_KEY ?? DEMO_CRM_API_KEY });
  const dynamoPath = claimDataFolder(join(dataDir, 'dynamodb'));
  const dynamo = await startEmbeddedDynamoDb(dynamoPath ? { path: dynamoPath } : {});
  const dynamodb = dynamo.client();
  await ensureStampTable(dynamodb, TABLE_NAME);

  const config = loadSyncServiceConfig({
    ...env,
    TABLE_NAME,
    SYNC_SIGNING_SECRET: secret,
    CRM_URL: env.CRM_URL ?? demoCrm?.url,
    CRM_API_KEY: env.CRM_API_KEY ?? DEMO_CRM_API_KEY,
  });
  const logger = new Logger({
    serviceName: 'crm-sync',
    logLevel: (env.LOG_LEVEL ?? 'INFO') as 'INFO',
  });
  const api = await serveApiGateway(buildSyncApi(config, { dynamodb, logger }), { port });

  const example = '{"user_id":"sms|demo","phone_number":"+1 555 010 0001"}';
  process.stdout.write(
    [
      '',
      `auth0-crm-sync local stack listening on ${api.url}`,
      `  POST ${api.url}/v1/sync   GET ${api.url}/v1/health`,
      // A secret the operator chose is theirs to know; only the generated one is shown.
      env.SYNC_SIGNING_SECRET
        ? '  signing secret: from SYNC_SIGNING_SECRET (not shown)'
        : `  signing secret: ${secret} (development secret, kept in ${dataDir})`,
      `  CRM: ${demoCrm ? `embedded demo CRM at ${demoCrm.url}` : 'CRM_URL'}`,
      `  DynamoDB: embedded (dynalite), ${dynamoPath ? `data in ${dynamoPath}` : 'in memory: the data folder is in use by another local stack'}`,
      `  sync day: ${config.timeZone}; claims under ${config.mapping.namespace}`,
      '',
      'Send a signed request (prints a curl line; add --send to send it):',
      `  npm run -s sign -- '${example}'`,
      '',
      'Ctrl-C stops it.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await api.close();
    dynamodb.destroy();
    await dynamo.close();
    await demoCrm?.close();
    if (dynamoPath) rmSync(join(dynamoPath, '..', 'dynamodb.pid'), { force: true });
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * LevelDB allows one process per folder; a second local stack (another PORT) runs in memory
 * instead of failing. Returns the folder, or undefined when another live process holds it.
 */
function claimDataFolder(path: string): string | undefined {
  const pidFile = join(path, '..', 'dynamodb.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid !== process.pid && isAlive(pid)) return undefined;
  }
  mkdirSync(path, { recursive: true });
  writeFileSync(pidFile, String(process.pid));
  return path;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`local stack failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
