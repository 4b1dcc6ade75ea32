import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { CRM_EVENTS_ROUTE } from '#functions/crm-events/app.ts';
import { buildCrmEventsApi } from '#functions/crm-events/build.ts';
import { buildSyncApi } from '#functions/sync/build.ts';
import { loadLocalPort, loadSyncServiceConfig, type SyncServiceConfig } from '#shared/config.ts';
import { loadCrmEventsConfig } from '#shared/crm-events-config.ts';
import type { UserQueue } from '#shared/domain/ports.ts';
import { serveApiGateway } from '#stand-ins/api-gateway.ts';
import type { DemoCrm } from '#stand-ins/demo-crm.ts';
import { startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { startLocalDemoCrm } from './demo-crms.ts';
import {
  DEFAULT_DATA_DIR,
  DEMO_CRM_URL_FILE,
  localMatchKeyHashSecret,
  localSigningSecret,
  localWebhookSecret,
} from './dev-secret.ts';

export const LOCAL_TABLE_NAME = 'crm-sync-stamps';

export interface LocalStack {
  readonly url: string;
  readonly secret: string;
  /** CRM_WEBHOOK_SECRET: what POST /v1/crm-events checks X-Crm-Signature with. */
  readonly webhookSecret: string;
  readonly config: SyncServiceConfig;
  readonly dataDir: string;
  /** The demo CRM's URL, when CRM_URL did not point elsewhere. */
  readonly demoCrmUrl: string | undefined;
  /** Which demo CRM: the generic one, or the HubSpot or Salesforce stand-in (CRM_KIND). */
  readonly demoCrmLabel: string | undefined;
  /** The demo CRM itself (to change contacts), when CRM_URL did not point elsewhere. */
  readonly demoCrm: DemoCrm | undefined;
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
  options: {
    persist?: boolean;
    port?: number;
    /** Where CRM change events queue affected users; none by default (stamps are marked only). */
    resyncQueue?: UserQueue;
  } = {},
): Promise<LocalStack> {
  // Read before anything starts: a bad PORT fails here, not after dynalite and the demo CRM.
  const port = options.port ?? loadLocalPort(env);
  const dataDir = resolve(env.LOCAL_DATA_DIR ?? DEFAULT_DATA_DIR);
  const secret = localSigningSecret(env, dataDir);
  const webhookSecret = localWebhookSecret(env, dataDir);
  const matchKeyHashSecret = localMatchKeyHashSecret(env, dataDir);
  const demo = env.CRM_URL ? undefined : await startLocalDemoCrm(env);
  const demoCrm = demo?.demoCrm;
  const dynamoPath =
    options.persist === false ? undefined : claimDataFolder(join(dataDir, 'dynamodb'));
  const dynamo = await startEmbeddedDynamoDb(dynamoPath ? { path: dynamoPath } : {});
  const dynamodb = dynamo.client();
  // Its own dynalite: a table from before CRM change events is re-created with their index.
  const table = await ensureStampTable(dynamodb, LOCAL_TABLE_NAME, { recreateUnindexed: true });
  if (table === 'upgraded') {
    process.stderr.write(
      'local stack: the stamp table predates CRM change events; re-created with their index (its stamps, a cache of the CRM, fill again)\n',
    );
  }

  const config = loadSyncServiceConfig({
    ...env,
    TABLE_NAME: LOCAL_TABLE_NAME,
    SYNC_SIGNING_SECRET: secret,
    ...demo?.settings,
    MATCH_KEY_HASH_SECRET: matchKeyHashSecret,
  });
  const logger = new Logger({
    serviceName: 'crm-sync',
    logLevel: (env.LOG_LEVEL ?? 'INFO') as 'INFO',
  });
  const sync = buildSyncApi(config, { dynamodb, logger });
  const events = buildCrmEventsApi(
    loadCrmEventsConfig({
      ...env,
      TABLE_NAME: LOCAL_TABLE_NAME,
      CRM_WEBHOOK_SECRET: webhookSecret,
      MATCH_KEY_HASH_SECRET: matchKeyHashSecret,
      RESYNC_QUEUE_URL: undefined,
    }),
    { dynamodb, logger, queue: options.resyncQueue },
  );
  // As the deployed API routes it: POST /v1/crm-events to its own function, the rest to sync's.
  const api = await serveApiGateway(
    (event, context) =>
      event.rawPath === CRM_EVENTS_ROUTE ? events(event, context) : sync(event, context),
    { port },
  );
  if (demoCrm && options.persist !== false) {
    writeFileSync(join(dataDir, DEMO_CRM_URL_FILE), `${demoCrm.changeUrl}\n`);
  }
  return {
    url: api.url,
    secret,
    webhookSecret,
    config,
    dataDir,
    demoCrmUrl: demo?.url,
    demoCrmLabel: demo?.label,
    demoCrm,
    dynamoPath,
    async close() {
      await api.close();
      dynamodb.destroy();
      await dynamo.close();
      await demo?.close();
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
