import { describe, expect, it } from 'vitest';
import { seededUser, seededUserId } from '#local/backfill/seeded-tenant.ts';
import { lambdaContext } from '#stand-ins/api-gateway-events.ts';
import type { CrmRequest } from '#stand-ins/crm-server.ts';
import { crmWebhookEvent } from '#stand-ins/crm-webhook.ts';
import { generatedCrmId, generatedIndexOf, generatedPhone } from '#stand-ins/demo-data.ts';
import { MemoryQueue } from '#stand-ins/sqs-memory-queue.ts';
import {
  generatedCrmReply,
  headerOnly429,
  useBackfillEnvironment,
} from '#test/support/backfill-env.ts';

/**
 * A CRM change event for users who never log in: the deployed path, with the shipped events
 * handler and the shipped backfill worker on the local backfill stack (Management API stand-in,
 * dynalite, a CRM server). The event queues the user; the worker reads them from Auth0, asks
 * the CRM and writes `app_metadata.crm`, only when it changed.
 */
const renamed = new Map<number, string>();
function answerAsCrm(request: CrmRequest) {
  const reply = generatedCrmReply(request);
  const i = generatedIndexOf(request.body.phoneNumber ?? '');
  const name = i === undefined ? undefined : renamed.get(i);
  if (!name || reply.status !== 200) return reply;
  return { ...reply, body: { ...(reply.body as Record<string, unknown>), name } };
}

const env = useBackfillEnvironment({ crm: answerAsCrm });
const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';
const USERS = 20;

async function sendEvents(queue: MemoryQueue, events: unknown[]) {
  const handler = env.stack.crmEvents(queue, WEBHOOK_SECRET);
  const answer = await handler(crmWebhookEvent(WEBHOOK_SECRET, events), lambdaContext());
  return { status: answer.statusCode, body: JSON.parse(String(answer.body)) };
}

describe('a CRM change event, deployed', () => {
  it('the backfill worker re-syncs the profile of a user who never logs in, the same day', async () => {
    renamed.clear();
    env.api.seedUsers(USERS, (i) => seededUser(i));
    // Today's run: every user is stamped and written once.
    const run = await env.stack.run({ location: await env.stack.exportTenant(), workers: 2 });
    expect(run.counts).toMatchObject({ checked: USERS, changed: USERS, failed: 0 });
    const writesBefore = env.api.userWrites;
    const lookupsBefore = env.crm.requests.length;

    renamed.set(7, 'Renamed In The CRM');
    const queue = new MemoryQueue();
    const answer = await sendEvents(queue, [
      { id: 'evt-resync-7', type: 'contact.updated', crm_id: generatedCrmId(7) },
    ]);
    expect(answer).toEqual({ status: 202, body: { accepted: 1, duplicates: 0, ignored: 0 } });
    // Only the id is queued: the worker reads the user as Auth0 has them now.
    expect(queue.depth).toBe(1);

    const resync = await env.stack.drain(queue, { workers: 1 });
    expect(resync.counts).toMatchObject({ checked: 1, changed: 1, failed: 0 });
    const profile = env.api.users.get(seededUserId(7))?.app_metadata.crm as { fields: unknown };
    expect(profile.fields).toMatchObject({ name: 'Renamed In The CRM' });
    // One read, one write, one CRM lookup: nobody else was touched.
    expect(env.api.userWrites - writesBefore).toBe(1);
    const reads = env.api.requests.filter(
      (r) => r.method === 'GET' && r.path === `/api/v2/users/${seededUserId(7)}`,
    );
    expect(reads).toHaveLength(1);
    expect(reads[0]?.query).toMatchObject({ include_fields: 'true' });
    expect(env.crm.requests.slice(lookupsBefore).map((r) => r.body.phoneNumber)).toEqual([
      generatedPhone(7),
    ]);

    // An event on a contact whose data did not change: the worker asks, and writes nothing.
    const unchanged = await sendEvents(queue, [
      { id: 'evt-resync-8', type: 'contact.updated', crm_id: generatedCrmId(8) },
    ]);
    expect(unchanged.body).toMatchObject({ accepted: 1 });
    const second = await env.stack.drain(queue, { workers: 1 });
    expect(second.counts).toMatchObject({ checked: 1, unchanged: 1 });
    expect(env.api.userWrites - writesBefore).toBe(1);
  });

  it('a read Auth0 refuses (header-only 429) is tried again; a user deleted since is skipped', async () => {
    renamed.clear();
    env.api.seedUsers(3, (i) => seededUser(i));
    const run = await env.stack.run({ location: await env.stack.exportTenant(), workers: 1 });
    expect(run.counts).toMatchObject({ checked: 3, changed: 3 });
    for (const i of [0, 1, 2]) renamed.set(i, `Renamed ${i}`);
    env.api.users.delete(seededUserId(2));
    const isRead = (req: { method: string; path: string }) =>
      req.method === 'GET' && req.path === `/api/v2/users/${seededUserId(0)}`;
    env.api.failNext(1, headerOnly429(), isRead);
    const queue = new MemoryQueue();
    const answer = await sendEvents(
      queue,
      [0, 1, 2].map((i) => ({
        id: `evt-read-${i}`,
        type: 'contact.updated',
        crm_id: generatedCrmId(i),
      })),
    );
    expect(answer.body).toMatchObject({ accepted: 3 });
    const resync = await env.stack.drain(queue, { workers: 1, visibilityTimeoutMs: 50 });
    expect(resync.retries).toBe(1);
    expect(resync.counts).toMatchObject({ checked: 3, changed: 2, skipped: 1, failed: 0 });
    for (const i of [0, 1]) {
      const crm = env.api.users.get(seededUserId(i))?.app_metadata.crm as { fields: unknown };
      expect(crm.fields).toMatchObject({ name: `Renamed ${i}` });
    }
    expect(env.api.users.has(seededUserId(2))).toBe(false);
  });
});
