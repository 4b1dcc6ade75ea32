import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  seededUser,
  seededUserId,
  seedSyncedTenant,
  verifySeededTenant,
} from '#local/backfill/seeded-tenant.ts';
import { RateLimiter } from '#shared/adapters/rate-limiter.ts';
import { MemoryQueue } from '#stand-ins/sqs-memory-queue.ts';
import {
  generatedCrmReply,
  headerOnly429,
  useBackfillEnvironment,
} from '#test/support/backfill-env.ts';

/**
 * What the backfill does when Auth0 or the CRM pushes back: 429 storms, the Management API's
 * own rate limit, 5xx, a CRM outage, a user that keeps failing. Nobody is ever lost.
 */

const env = useBackfillEnvironment({ servicesThread: true });

/** A tenant synced yesterday whose users all changed in the CRM since: each needs a write. */
function seedChanged(users: number) {
  seedSyncedTenant(env.api, { users, changedShare: 1, namespace: env.stack.namespace });
}

const isUserPatch = (req: { method: string; path: string }) =>
  req.method === 'PATCH' && req.path.startsWith('/api/v2/users/');
const userPatches = () => env.api.requests.filter(isUserPatch);

describe('Auth0 pushing back', () => {
  it('a 429 storm on PATCH /users (Auth0 sends x-ratelimit-* but no Retry-After): every user is written once, after the reset second, with no second CRM call', async () => {
    seedChanged(100);
    env.api.failNext(8, headerOnly429(), isUserPatch);
    const run = await env.stack.run({ location: await env.stack.exportTenant(), workers: 8 });

    expect(run.counts).toMatchObject({ checked: 100, changed: 100, failed: 0 });
    expect(run.retries).toBe(8);
    expect(run.deadLettered).toBe(0);
    expect(env.api.userWrites).toBe(100);
    expect(userPatches()).toHaveLength(100 + 8);
    expect(verifySeededTenant(env.api, env.stack.namespace)).toEqual({
      matching: 100,
      mismatched: 0,
    });
    // A retried user is answered from today's stamp: the CRM was asked once per user.
    expect(env.crm.requests).toHaveLength(100);
  });

  it("the Management API's rate limit: writes it refuses come back later, none is lost", async () => {
    seedChanged(60);
    const location = await env.stack.exportTenant();
    // The tenant's Write Users bucket refills 20 a second (burst 20); this writer would send
    // far more.
    env.api.setRateLimit({ writeUsers: { perSecond: 20, burst: 20 } });
    const run = await env.stack.run({ location, workers: 8 });

    expect(run.counts).toMatchObject({ checked: 60, changed: 60, failed: 0 });
    expect(run.retries).toBeGreaterThan(0);
    expect(env.api.userWrites).toBe(60);
    expect(verifySeededTenant(env.api, env.stack.namespace)).toEqual({
      matching: 60,
      mismatched: 0,
    });
    expect(env.crm.requests).toHaveLength(60);
  });

  it('5xx answers are retried until the write goes through', async () => {
    seedChanged(40);
    env.api.failNext(15, { status: 503 }, isUserPatch);
    const run = await env.stack.run({
      location: await env.stack.exportTenant(),
      workers: 4,
      visibilityTimeoutMs: 20,
      queue: new MemoryQueue({ maxReceives: 20 }),
    });

    expect(run.counts).toMatchObject({ checked: 40, changed: 40, failed: 0 });
    expect(run.retries).toBe(15);
    expect(env.api.userWrites).toBe(40);
    expect(verifySeededTenant(env.api, env.stack.namespace).mismatched).toBe(0);
  });

  it('a user failing on every attempt is dead-lettered after N receives; the run goes on, and the next run catches up without asking the CRM again', async () => {
    seedChanged(50);
    const stubborn = seededUserId(7);
    env.api.failNext(
      3,
      { status: 503 },
      (req) => isUserPatch(req) && req.path.endsWith(`/${stubborn}`),
    );
    const queue = new MemoryQueue({ maxReceives: 3 });
    const run = await env.stack.run({
      location: await env.stack.exportTenant(),
      workers: 4,
      queue,
      visibilityTimeoutMs: 20,
    });

    expect(queue.deadLetters.map((u) => u.user_id)).toEqual([stubborn]);
    expect(run.deadLettered).toBe(1);
    expect(run.counts).toMatchObject({ checked: 50, changed: 49, failed: 1 });
    expect(env.api.userWrites).toBe(49);
    expect(verifySeededTenant(env.api, env.stack.namespace)).toEqual({
      matching: 49,
      mismatched: 1,
    });

    const calls = env.crm.requests.length;
    const next = await env.stack.run({ location: await env.stack.exportTenant(), workers: 4 });
    expect(next.progress.enqueued).toBe(1);
    expect(next.counts).toMatchObject({ checked: 1, changed: 1, failed: 0 });
    expect(verifySeededTenant(env.api, env.stack.namespace)).toEqual({
      matching: 50,
      mismatched: 0,
    });
    expect(env.crm.requests).toHaveLength(calls);
  });

  it('a user deleted during the run (404 on every write) ends in the dead letters, not in a stopped run', async () => {
    seedChanged(30);
    const deleted = seededUserId(12);
    env.api.failNext(
      2,
      {
        status: 404,
        body: {
          statusCode: 404,
          error: 'Not Found',
          message: 'The user does not exist.',
          errorCode: 'inexistent_user',
        },
      },
      (req) => isUserPatch(req) && req.path.endsWith(`/${deleted}`),
    );
    const queue = new MemoryQueue({ maxReceives: 2 });
    const run = await env.stack.run({
      location: await env.stack.exportTenant(),
      workers: 4,
      queue,
      visibilityTimeoutMs: 20,
    });

    expect(queue.deadLetters.map((u) => u.user_id)).toEqual([deleted]);
    expect(run.counts).toMatchObject({ checked: 30, changed: 29, failed: 1 });
    expect(env.api.userWrites).toBe(29);
  });
});

describe('the CRM pushing back', () => {
  it('a CRM outage: users come back later and are all synced once it answers again', async () => {
    seedChanged(80);
    let refused = 0;
    env.crm.answer((request) => {
      if (refused < 25) {
        refused++;
        return { status: 503, body: { error: 'down' } };
      }
      return generatedCrmReply(request);
    });
    const run = await env.stack.run({
      location: await env.stack.exportTenant(),
      workers: 8,
      visibilityTimeoutMs: 20,
      queue: new MemoryQueue({ maxReceives: 30 }),
    });

    expect(run.counts).toMatchObject({ checked: 80, changed: 80, failed: 0 });
    expect(run.retries).toBe(25);
    expect(env.crm.requests).toHaveLength(80 + 25);
    expect(verifySeededTenant(env.api, env.stack.namespace)).toEqual({
      matching: 80,
      mismatched: 0,
    });
  });

  it('calls to the CRM keep to the configured rate (virtual clock)', async () => {
    let now = 0;
    const limiter = new RateLimiter(
      10,
      10,
      () => now,
      async (ms) => {
        now += ms;
      },
    );
    const at: number[] = [];
    await Promise.all(Array.from({ length: 45 }, () => limiter.take().then(() => at.push(now))));
    // A burst of 10, then one every 100 ms: 45 calls take 3.5 s, and no second holds more
    // than the burst plus the rate.
    expect(Math.max(...at)).toBe(3_500);
    for (const start of at) {
      expect(at.filter((t) => t >= start && t < start + 1_000).length).toBeLessThanOrEqual(20);
    }
  });
});

describe('the export download', () => {
  it('a download cut short fails the run instead of ending it quietly with users missing', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/gzip' });
      const gzip = createGzip();
      gzip.on('data', (chunk: Buffer) => res.write(chunk));
      for (let i = 0; i < 5_000; i++) {
        gzip.write(`${JSON.stringify(seededUser(i))}\n`);
      }
      // The connection ends before the rest of the file (and the gzip trailer) arrives.
      gzip.flush(() => res.socket?.end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const users = env.stack.exporter.users(`http://127.0.0.1:${port}/cut.json.gz`);
      let read = 0;
      await expect(
        (async () => {
          for await (const _ of users) read++;
        })(),
      ).rejects.toThrow();
      expect(read).toBeGreaterThan(0);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
