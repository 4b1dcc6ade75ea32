import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { buildSyncApi } from '#functions/sync/build.ts';
import { loadSyncServiceConfig } from '#shared/config.ts';
import { sign } from '#shared/domain/signature.ts';
import { httpApiEvent, lambdaContext } from '#stand-ins/api-gateway-events.ts';
import { startDemoCrm } from '#stand-ins/demo-crm.ts';
import { SAMPLE_CONTACTS } from '#stand-ins/demo-data.ts';
import { startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { countCommands } from '#stand-ins/local-aws-clients.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { row, summarise } from './stats.ts';

const SECRET = 'bench-signing-secret';
const CRM_KEY = 'bench-crm-key';
const TABLE = 'bench-stamps';

function syncEvent(body: string): APIGatewayProxyEventV2 {
  const headers = {
    'content-type': 'application/json',
    'x-sync-signature': sign(SECRET, Math.floor(Date.now() / 1000), body),
  };
  return httpApiEvent({ method: 'POST', target: '/v1/sync', headers, body });
}

/**
 * The login path's hot case: a user already synced today. The handler's cost is compared with
 * the one DynamoDB read it must make, on the same dynalite, interleaved in the same run.
 */
export async function benchSyncHandler(iterations: number): Promise<string[]> {
  const dynamo = await startEmbeddedDynamoDb();
  const crm = await startDemoCrm({ apiKey: CRM_KEY });
  const setup = dynamo.client();
  await ensureStampTable(setup, TABLE);
  const dynamodb = dynamo.client();
  const bare = dynamo.client();
  const commands = countCommands(dynamodb);
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
  const handler = buildSyncApi(
    loadSyncServiceConfig({
      TABLE_NAME: TABLE,
      SYNC_SIGNING_SECRET: SECRET,
      CRM_URL: crm.url,
      CRM_API_KEY: CRM_KEY,
    }),
    { dynamodb },
  );
  const call = async (body: string) => {
    const result = await handler(syncEvent(body), lambdaContext({ functionName: 'bench' }));
    if (result.statusCode !== 200) throw new Error(`bench request failed: ${result.statusCode}`);
    return JSON.parse(result.body ?? '{}') as { status: string };
  };

  // Synced path: a new user per request; the CRM is the demo CRM on loopback.
  const phones = SAMPLE_CONTACTS.map((c) => c.phone);
  const syncedTimes: number[] = [];
  commands.clear();
  const crmBefore = crm.lookups();
  const syncedCount = 200;
  for (let i = 0; i < syncedCount; i++) {
    const body = JSON.stringify({ user_id: `sms|bench-${i}`, phone_number: phones[i % 4] });
    const started = performance.now();
    const answer = await call(body);
    syncedTimes.push(performance.now() - started);
    if (answer.status !== 'synced') throw new Error(`expected synced, got ${answer.status}`);
  }
  const syncedIo = perRequest(commands, syncedCount);
  const syncedCrm = (crm.lookups() - crmBefore) / syncedCount;

  // Cached path against a bare GetItem, interleaved so both see the same machine state.
  const cachedBody = JSON.stringify({ user_id: 'sms|bench-0', phone_number: phones[0] });
  const get = new GetItemCommand({ TableName: TABLE, Key: { user_id: { S: 'sms|bench-0' } } });
  for (let i = 0; i < 300; i++) {
    await call(cachedBody);
    await bare.send(get);
  }
  const handlerTimes: number[] = [];
  const getTimes: number[] = [];
  commands.clear();
  const cachedCrmBefore = crm.lookups();
  for (let i = 0; i < iterations; i++) {
    let started = performance.now();
    const answer = await call(cachedBody);
    handlerTimes.push(performance.now() - started);
    if (answer.status !== 'cached') throw new Error(`expected cached, got ${answer.status}`);
    started = performance.now();
    await bare.send(get);
    getTimes.push(performance.now() - started);
  }
  const cachedIo = perRequest(commands, iterations);
  const cachedCrm = (crm.lookups() - cachedCrmBefore) / iterations;

  for (const c of [setup, dynamodb, bare]) c.destroy();
  await dynamo.close();
  await crm.close();

  const h = summarise(handlerTimes);
  const g = summarise(getTimes);
  const s = summarise(syncedTimes);
  return [
    '## Sync handler, cached path (user already synced today), dynalite on loopback',
    row('handler POST /v1/sync (cached)', h),
    row('baseline: bare DynamoDB GetItem', g),
    `ratio handler/GetItem: p50 ${(h.p50 / g.p50).toFixed(2)}  p99 ${(h.p99 / g.p99).toFixed(2)}  (target p50 <= 1.5)`,
    `I/O per cached request: ${syncedIoLine(cachedIo)}, CRM calls ${cachedCrm}`,
    '',
    '## Sync handler, synced path (new user: CRM lookup + stamp)',
    row('handler POST /v1/sync (synced, demo CRM)', s),
    `I/O per synced request: ${syncedIoLine(syncedIo)}, CRM calls ${syncedCrm}`,
  ];
}

function perRequest(counts: Map<string, number>, requests: number): Map<string, number> {
  return new Map([...counts].map(([name, n]) => [name, n / requests]));
}

function syncedIoLine(io: Map<string, number>): string {
  const reads = io.get('GetItemCommand') ?? 0;
  const writes = (io.get('UpdateItemCommand') ?? 0) + (io.get('PutItemCommand') ?? 0);
  const detail = [...io].map(([name, n]) => `${name.replace('Command', '')} ${n}`).join(', ');
  return `${reads} read(s), ${writes} write(s) [${detail}]`;
}
