import { Logger } from '@aws-lambda-powertools/logger';
import { seededUser, seededUserId } from '#local/backfill/seeded-tenant.ts';
import { type LocalBackfillStack, startLocalBackfillStack } from '#local/backfill/stack.ts';
import { lambdaContext } from '#stand-ins/api-gateway-events.ts';
import { startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { startCrmServer } from '#stand-ins/crm-server.ts';
import { crmWebhookEvent } from '#stand-ins/crm-webhook.ts';
import { generatedContact } from '#stand-ins/demo-crm.ts';
import { generatedCrmId, generatedIndexOf } from '#stand-ins/demo-data.ts';
import { startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { MemoryQueue } from '#stand-ins/sqs-memory-queue.ts';
import { ms, percentile } from './stats.ts';

/**
 * The write budget the measurement runs at: the Management API stand-in refuses more (429 with
 * x-ratelimit-* headers, one bucket for the whole API, as on the Free plan but at an
 * Enterprise-like rate), and the worker's pace keeps under it. Reads take turns in that pace.
 */
const WRITES_PER_SECOND = Number(process.env.BENCH_AUTH0_WRITES_PER_SECOND ?? 50);
const WEBHOOK_SECRET = 'bench-webhook-secret';
const WORKERS = 8;

/**
 * From CRM change event to updated profile, for `users` users who never log in: the CRM renames
 * every one of them after today's backfill run stamped them. The events go to the shipped
 * POST /v1/crm-events handler (100 per request), which marks the stamps and queues the users;
 * the shipped backfill worker reads each user, asks the CRM and writes `app_metadata.crm`.
 *
 * The baseline, measured in the same run at the same rate: the same number of other users whose
 * stamps are a day old, queued as the daily backfill queues them (phone number and profile in
 * the message, so no read): the worker's own cost per changed user. Asserts nothing.
 */
export async function benchCrmEvents(users: number): Promise<string[]> {
  const dynamo = await startEmbeddedDynamoDb();
  const dynamodb = dynamo.client();
  const api = await startManagementApi();
  const renamed = new Set<number>();
  const crm = await startCrmServer();
  crm.answer((request) => {
    const phone = request.body.phoneNumber ?? '';
    const contact = generatedContact(phone);
    if (!contact) return { status: 404, body: { error: 'none' } };
    const i = generatedIndexOf(phone) as number;
    return { status: 200, body: renamed.has(i) ? { ...contact, name: `Renamed ${i}` } : contact };
  });
  const logger = new Logger({ serviceName: 'bench-crm-events', logLevel: 'ERROR' });
  const common = { api, crm: { url: crm.url, apiKey: 'bench' }, dynamodb, logger };
  const tableName = 'bench-crm-events';
  // The tenant's first run, at no limit: it stamps everyone today and writes every profile.
  const setup = await startLocalBackfillStack({
    ...common,
    tableName,
    crmRatePerSecond: 100_000,
    auth0WritesPerSecond: 100_000,
  });
  const measured = await startLocalBackfillStack({
    ...common,
    tableName,
    crmRatePerSecond: 100_000,
    auth0WritesPerSecond: WRITES_PER_SECOND,
  });
  try {
    api.seedUsers(users * 2, (i) => seededUser(i));
    const first = await setup.run({ location: await setup.exportTenant(), workers: WORKERS });
    if (first.counts.changed !== users * 2) throw new Error('the setup run did not write everyone');
    api.setRateLimit(WRITES_PER_SECOND);

    // Baseline: users n..2n as the daily backfill finds them changed (their stamps a day old).
    const baselineUsers = Array.from({ length: users }, (_, k) => users + k);
    for (const i of baselineUsers) renamed.add(i);
    await ageStamps(setup, baselineUsers);
    const baselineQueue = new MemoryQueue({ capacity: users + 10 });
    const baselineStart = performance.now();
    for (let k = 0; k < users; k += 10) {
      await baselineQueue.send(
        baselineUsers.slice(k, k + 10).map((i) => {
          const user = api.users.get(seededUserId(i));
          return {
            user_id: seededUserId(i),
            phone_number: user?.phone_number as string,
            crm: user?.app_metadata.crm,
          };
        }),
      );
    }
    const baseline = await timedDrain(measured, baselineQueue, baselineStart);

    // CRM change events for users 0..n-1, stamped today: 100 events a request.
    const eventUsers = Array.from({ length: users }, (_, i) => i);
    for (const i of eventUsers) renamed.add(i);
    const queue = new MemoryQueue({ capacity: users + 10 });
    const handler = measured.crmEvents(queue, WEBHOOK_SECRET);
    const eventsStart = performance.now();
    const requestMs: number[] = [];
    for (let k = 0; k < users; k += 100) {
      const events = eventUsers.slice(k, k + 100).map((i) => ({
        id: `bench-${i}`,
        type: 'contact.updated',
        crm_id: generatedCrmId(i),
      }));
      const sent = performance.now();
      const answer = await handler(crmWebhookEvent(WEBHOOK_SECRET, events), lambdaContext());
      requestMs.push(performance.now() - sent);
      if (answer.statusCode !== 202) throw new Error(`events refused: HTTP ${answer.statusCode}`);
    }
    const events = await timedDrain(measured, queue, eventsStart);
    const renamedProfiles = eventUsers.filter(
      (i) =>
        (api.users.get(seededUserId(i))?.app_metadata.crm as { fields?: { name?: string } })?.fields
          ?.name === `Renamed ${i}`,
    ).length;

    const floor = (calls: number) => (calls / WRITES_PER_SECOND) * 1000;
    const line = (label: string, d: Drained, callsPerUser: number) =>
      `  ${label.padEnd(40)} all ${seconds(d.totalMs)}  p50 ${seconds(d.p50)}  p99 ${seconds(d.p99)}  (floor at ${WRITES_PER_SECOND}/s: ${seconds(floor(users * callsPerUser))}; ${d.changed} written)`;
    const sortedRequests = [...requestMs].sort((a, b) => a - b);
    return [
      `CRM change events: ${users.toLocaleString('en-US')} users who never log in renamed in the CRM; Auth0 Management API at ${WRITES_PER_SECOND} calls/s (the stand-in's limit and the worker's pace), ${WORKERS} worker pollers`,
      line('event → updated profile', events, 2),
      line('baseline: daily backfill, changed users', baseline, 1),
      `  ${'ratio (events / baseline, all users)'.padEnd(40)} ${(events.totalMs / baseline.totalMs).toFixed(2)}× (a re-sync reads the user first: 2 Management API calls, the baseline 1)`,
      `  ${'POST /v1/crm-events, 100 events'.padEnd(40)} n=${requestMs.length}  p50 ${ms(percentile(sortedRequests, 50))}  p99 ${ms(percentile(sortedRequests, 99))}`,
      `  ${'profiles renamed / users'.padEnd(40)} ${renamedProfiles} / ${users}; 429s ${api.requests.filter((r) => r.method === 'PATCH').length - api.userWrites}`,
    ];
  } finally {
    await measured.close();
    await setup.close();
    await crm.close();
    await api.close();
    dynamodb.destroy();
    await dynamo.close();
  }
}

interface Drained {
  readonly totalMs: number;
  readonly p50: number;
  readonly p99: number;
  readonly changed: number;
}

/**
 * Works the queue through the shipped worker; each user written is timed from `start` to the
 * end of the batch that wrote them (the worker reports per batch).
 */
async function timedDrain(
  stack: LocalBackfillStack,
  queue: MemoryQueue,
  start: number,
): Promise<Drained> {
  const done: number[] = [];
  const unsubscribe = stack.worker.onBatch((counts) => {
    const at = performance.now() - start;
    for (let k = 0; k < counts.changed; k++) done.push(at);
  });
  try {
    await stack.drain(queue, { workers: WORKERS });
  } finally {
    unsubscribe();
  }
  const sorted = [...done].sort((a, b) => a - b);
  return {
    totalMs: performance.now() - start,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    changed: done.length,
  };
}

/** A day-old stamp for each user: today's run of the baseline users happened yesterday. */
async function ageStamps(stack: LocalBackfillStack, indexes: readonly number[]): Promise<void> {
  const { UpdateItemCommand } = await import('@aws-sdk/client-dynamodb');
  const yesterday = String(Date.now() - 86_400_000);
  for (const i of indexes) {
    await stack.dynamodb.send(
      new UpdateItemCommand({
        TableName: stack.config.tableName,
        Key: { user_id: { S: seededUserId(i) } },
        UpdateExpression: 'SET fresh_until = :y, synced_at = :y',
        ExpressionAttributeValues: { ':y': { N: yesterday } },
      }),
    );
  }
}

const seconds = (valueMs: number) => `${(valueMs / 1000).toFixed(2)} s`;
