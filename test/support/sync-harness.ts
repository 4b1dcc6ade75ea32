import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { buildSyncApi } from '#functions/sync/build.ts';
import { loadSyncServiceConfig } from '#shared/config.ts';
import { sign } from '#shared/domain/signature.ts';
import { httpApiEvent, lambdaContext } from '#stand-ins/api-gateway-events.ts';
import { type CrmServer, startCrmServer } from '#stand-ins/crm-server.ts';
import { ADA_LOVELACE, GRACE_HOPPER } from '#stand-ins/demo-data.ts';
import { startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { countCommands } from '#stand-ins/local-aws-clients.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { TEST_SECRETS } from './pii.ts';

/** The CRM records of two sample contacts (demo-data.ts), as the test CRM answers them. */
export const ADA = {
  id: ADA_LOVELACE.id,
  name: ADA_LOVELACE.name,
  email: ADA_LOVELACE.email,
  tier: ADA_LOVELACE.tier,
  address: { city: 'London' },
  notes: 'never in a token',
};
export const GRACE = { id: GRACE_HOPPER.id, name: GRACE_HOPPER.name, tier: GRACE_HOPPER.tier };
export const CONTACTS = { [ADA_LOVELACE.phone]: ADA, [GRACE_HOPPER.phone]: GRACE };

export interface InvokeOptions {
  body?: unknown;
  /** Sent as-is instead of JSON-encoding `body`. */
  rawBody?: string;
  secret?: string | null;
  timestamp?: number;
  headers?: Record<string, string>;
  method?: string;
  path?: string;
  base64?: boolean;
  /** When API Gateway received the request (epoch ms); the invocation time by default. */
  receivedAt?: number;
}

export interface InvokeResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read response bodies by the contract's shape
  body: any;
  headers: Record<string, string>;
}

/**
 * The sync handler wired as deployed (buildSyncApi), against a real dynalite and a real CRM
 * HTTP server, with a clock the test moves.
 */
export async function startSyncHarness(
  options: {
    env?: Record<string, string>;
    crm?: CrmServer;
    /** A CRM of the test's own (e.g. a hostile one) instead of the scripted one. */
    crmUrl?: string;
    contacts?: Record<string, Record<string, unknown>>;
    /** Let time run (leases expire, waits time out) instead of the test moving the clock. */
    realTime?: boolean;
  } = {},
) {
  const dynamo = await startEmbeddedDynamoDb();
  const crm = options.crm ?? (await startCrmServer(options.contacts ?? CONTACTS));
  const tableName = `stamps-${randomUUID().slice(0, 8)}`;
  const setupClient = dynamo.client();
  await ensureStampTable(setupClient, tableName);
  setupClient.destroy();

  const clock = { now: Date.parse('2026-11-26T08:15:00.000Z') };
  const config = loadSyncServiceConfig({
    TABLE_NAME: tableName,
    SYNC_SIGNING_SECRET: `${TEST_SECRETS.signing},${TEST_SECRETS.previousSigning}`,
    CRM_URL: options.crmUrl ?? crm.url,
    CRM_API_KEY: TEST_SECRETS.crmApiKey,
    ...options.env,
  });
  const clients: DynamoDBClient[] = [];
  const instance = (dynamodb = dynamo.client()) => {
    clients.push(dynamodb);
    const commands = countCommands(dynamodb);
    const now = options.realTime ? Date.now : () => clock.now;
    const handler = buildSyncApi(config, { dynamodb, clock: now });
    const invoke = async (opts: InvokeOptions = {}): Promise<InvokeResult> => {
      const result = await handler(
        event(opts, now()),
        lambdaContext({ functionName: 'crm-sync-test' }),
      );
      return {
        status: result.statusCode,
        body: result.body ? JSON.parse(result.body) : undefined,
        headers: (result.headers ?? {}) as Record<string, string>,
      };
    };
    return { handler, invoke, commands, dynamodb };
  };
  const main = instance();
  return {
    ...main,
    instance,
    crm,
    clock,
    config,
    tableName,
    dynamoEndpoint: dynamo.endpoint,
    /** A new client of the harness's DynamoDB, e.g. to inject faults before building an instance. */
    dynamoClient: () => dynamo.client(),
    async close() {
      for (const c of clients) c.destroy();
      await dynamo.close();
      if (!options.crm) await crm.close();
    },
  };
}

export type SyncHarness = Awaited<ReturnType<typeof startSyncHarness>>;

/** A request as the Action sends it (signed at `now` unless told otherwise), from API Gateway. */
export function event(opts: InvokeOptions, now: number) {
  const text = opts.rawBody ?? JSON.stringify(opts.body ?? {});
  const secret = opts.secret === undefined ? TEST_SECRETS.signing : opts.secret;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (secret !== null) {
    headers['x-sync-signature'] = sign(secret, opts.timestamp ?? Math.floor(now / 1000), text);
  }
  return httpApiEvent({
    method: opts.method ?? 'POST',
    target: opts.path ?? '/v1/sync',
    headers,
    body: text,
    base64: opts.base64,
    receivedAt: opts.receivedAt ?? now,
  });
}
