import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { buildSyncApi } from '#functions/sync/build.ts';
import { loadLocalPort, loadSyncServiceConfig, type SyncServiceConfig } from '#shared/config.ts';
import { serveApiGateway } from '#stand-ins/api-gateway.ts';
import { DEMO_CRM_API_KEY, startDemoCrm } from '#stand-ins/demo-crm.ts';
import { startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { DEFAULT_DATA_DIR, localSigningSecret } from './dev-secret.ts';

export const LOCAL_TABLE_NAME = 'crm-sync-stamps';

export interface LocalStack {
  readonly url: string;
  readonly secret: string;
  readonly config: SyncServiceConfig;
  readonly dataDir: string;
  /** The demo CRM's URL, when CRM_URL did not point elsewhere. */
  readonly demoCrmUrl: string | undefined;
  /** The persisted DynamoDB folder, or undefined when running in memory. */
  readonly dynamoPath: string | undefined;
  close(): Promise<void>;
}

/**
 * The sync handler served on 127.0.0.1 with an embedded dynalite and, unless CRM_URL says
 * otherwise, the demo CRM: what `npm start` runs and what the login demo starts in-process.
 */
export async function startLocalStack(
  env: Readonly<Record<string, string | undefined>>,
  options: { persist?: boolean; port?: number } = {},
): Promise<LocalStack> {
  // Read before anything starts: a bad PORT fails here, not after dynalite and the demo CRM.
  const port = options.port ?? loadLocalPort(env);
  const dataDir = resolve(env.LOCAL_DATA_DIR ?? DEFAULT_DATA_DIR);
  const secret = localSigningSecret(env, dataDir);
  const demoCrm = env.CRM_URL
    ? undefined
    : await startDemoCrm({ apiKey: env.CRM_API_KEY ?? DEMO_CRM_API_KEY });
  const dynamoPath =
    options.persist === false ? undefined : claimDataFolder(join(dataDir, 'dynamodb'));
  const dynamo = await startEmbeddedDynamoDb(dynamoPath ? { path: dynamoPath } : {});
  const dynamodb = dynamo.client();
  await ensureStampTable(dynamodb, LOCAL_TABLE_NAME);

  const config = loadSyncServiceConfig({
    ...env,
    TABLE_NAME: LOCAL_TABLE_NAME,
    SYNC_SIGNING_SECRET: secret,
    CRM_URL: env.CRM_URL ?? demoCrm?.url,
    CRM_API_KEY: env.CRM_API_KEY ?? DEMO_CRM_API_KEY,
  });
  const logger = new Logger({
    serviceName: 'crm-sync',
    logLevel: (env.LOG_LEVEL ?? 'INFO') as 'INFO',
  });
  const api = await serveApiGateway(buildSyncApi(config, { dynamodb, logger }), { port });
  return {
    url: api.url,
    secret,
    config,
    dataDir,
    demoCrmUrl: demoCrm?.url,
    dynamoPath,
    async close() {
      await api.close();
      dynamodb.destroy();
      await dynamo.close();
      await demoCrm?.close();
      if (dynamoPath) rmSync(join(dynamoPath, '..', 'dynamodb.pid'), { force: true });
    },
  };
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
