import { describe, expect, it } from 'vitest';
import {
  isChangedUser,
  seededCrmMetadata,
  seededUser,
  seededUserId,
} from '#local/backfill/seeded-tenant.ts';
import { endOfSyncDay } from '#shared/domain/sync-day.ts';
import type { ManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import type { CrmRequest } from '#stand-ins/crm-server.ts';
import {
  generatedCrmId,
  generatedIndexOf,
  generatedName,
  generatedPhone,
} from '#stand-ins/demo-data.ts';
import { generatedCrmReply, useBackfillEnvironment } from '#test/support/backfill-env.ts';

/**
 * The whole backfill over a tenant of 2,500 users (more than the 1,000 a users search can
 * reach): the export job through the real auth0 SDK against the local Management API, real
 * dynalite, a real CRM server; interrupted, resumed, and run again the same day.
 */

const USERS = 2_500;
const NAMESPACE = 'https://crm.example.com/';

type Kind = 'fresh' | 'no_key' | 'gone' | 'changed' | 'unchanged';

/**
 * What seeded user i is: logged in today (40%), nothing to match on, dropped by the CRM since,
 * renamed in the CRM since (5%), or unchanged.
 */
function kindOf(i: number): Kind {
  if (i % 5 === 1 || i % 5 === 3) return 'fresh';
  if (i % 50 === 12) return 'no_key';
  if (i % 40 === 17) return 'gone';
  return isChangedUser(i, 0.05) ? 'changed' : 'unchanged';
}

function seedTenant(api: ManagementApi, now: number): Record<Kind, number[]> {
  const yesterday = new Date(now - 86_400_000);
  const past = {
    namespace: NAMESPACE,
    syncedAt: yesterday,
    freshUntil: endOfSyncDay(yesterday, 'UTC'),
  };
  const today = {
    namespace: NAMESPACE,
    syncedAt: new Date(now),
    freshUntil: endOfSyncDay(new Date(now), 'UTC'),
  };
  const byKind: Record<Kind, number[]> = {
    fresh: [],
    no_key: [],
    gone: [],
    changed: [],
    unchanged: [],
  };
  api.seedUsers(USERS, (i) => {
    const kind = kindOf(i);
    byKind[kind].push(i);
    if (kind === 'no_key') return { user_id: seededUserId(i), app_metadata: {} };
    const crm =
      kind === 'fresh'
        ? seededCrmMetadata(i, today)
        : seededCrmMetadata(i, { ...past, outdated: kind === 'changed' });
    return seededUser(i, crm);
  });
  return byKind;
}

/** Answers like the generated demo CRM, except for the users it no longer knows. */
function answerAsCrm(request: CrmRequest) {
  const i = generatedIndexOf(request.body.phoneNumber ?? '');
  if (i !== undefined && kindOf(i) === 'gone') {
    return { status: 404, body: { error: 'no such contact' } };
  }
  return generatedCrmReply(request);
}

const env = useBackfillEnvironment({ crm: answerAsCrm, servicesThread: true });

const patches = () =>
  env.api.requests.filter((r) => r.method === 'PATCH' && r.path.startsWith('/api/v2/users/'));

function perUser(paths: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of paths) counts.set(p, (counts.get(p) ?? 0) + 1);
  return counts;
}

describe('backfill over a 2,500-user tenant', () => {
  it('an interrupted run resumed at `next` handles every user exactly once, and a second run the same day does nothing', async () => {
    const now = Date.now();
    const kinds = seedTenant(env.api, now);
    const location = await env.stack.exportTenant();

    // Interrupted after 1,200 users (past the 1,000 a users search could list)...
    const first = await env.stack.run({ location, workers: 8, stopAfter: 1_200 });
    expect(first.progress).toMatchObject({ done: false, next: 1_200, exported: 1_200 });
    // ...and resumed where it stopped. Auth0's download link lives 60 s, so the resumed run
    // downloads again from a fresh link, as each enqueue step of the orchestrator does.
    const second = await env.stack.run({
      location: await env.stack.exportTenant(),
      workers: 8,
      startAt: first.progress.next,
    });
    expect(second.progress).toMatchObject({ done: true, next: USERS, exported: USERS - 1_200 });

    const looked = kinds.gone.length + kinds.changed.length + kinds.unchanged.length;
    const total = (key: 'checked' | 'changed' | 'unchanged' | 'notFound' | 'failed') =>
      first.counts[key] + second.counts[key];
    expect(total('checked')).toBe(looked);
    expect(total('changed')).toBe(kinds.changed.length);
    expect(total('notFound')).toBe(kinds.gone.length);
    expect(total('unchanged')).toBe(kinds.unchanged.length);
    expect(total('failed')).toBe(0);
    expect(first.progress.freshInProfile + second.progress.freshInProfile).toBe(kinds.fresh.length);
    expect(first.progress.skipped + second.progress.skipped).toBe(kinds.no_key.length);

    // Exactly once: one CRM lookup per user to look at, none for the others.
    const lookups = perUser(env.crm.requests.map((r) => r.body.phoneNumber ?? ''));
    expect(lookups.size).toBe(looked);
    expect([...lookups.values()].every((n) => n === 1)).toBe(true);
    for (const i of [...kinds.fresh, ...kinds.no_key])
      expect(lookups.has(generatedPhone(i))).toBe(false);

    // Only users whose link or fields changed are written, each once.
    const written = perUser(patches().map((r) => r.path.slice('/api/v2/users/'.length)));
    const expected = [...kinds.changed, ...kinds.gone].map(seededUserId).sort();
    expect([...written.keys()].sort()).toEqual(expected);
    expect([...written.values()].every((n) => n === 1)).toBe(true);
    expect(env.api.userWrites).toBe(expected.length);

    // Every profile now matches the CRM.
    for (const i of [...kinds.changed, ...kinds.unchanged]) {
      const profile = env.api.users.get(seededUserId(i))?.app_metadata.crm as {
        id: string;
        fields: unknown;
      };
      expect(profile.id).toBe(generatedCrmId(i));
      expect(profile.fields).toEqual({ crm_id: generatedCrmId(i), name: generatedName(i) });
    }
    for (const i of kinds.gone) {
      expect(env.api.users.get(seededUserId(i))?.app_metadata.crm).toMatchObject({
        id: null,
        fields: {},
      });
    }

    // A second run the same day (a new export job): nobody queued, no CRM call, no user write.
    const crmCalls = env.crm.requests.length;
    const writes = env.api.writes().length;
    const again = await env.stack.run({ location: await env.stack.exportTenant(), workers: 8 });
    expect(again.progress).toMatchObject({ done: true, next: USERS, enqueued: 0 });
    // Users just written carry today's data in the profile; the others are settled by the stamp.
    expect(again.progress.freshInProfile).toBe(
      kinds.fresh.length + kinds.changed.length + kinds.gone.length,
    );
    expect(again.progress.settledToday).toBe(kinds.unchanged.length);
    expect(again.counts.checked).toBe(0);
    expect(env.crm.requests.length).toBe(crmCalls);
    expect(env.api.userWrites).toBe(expected.length);
    // The only new write is the export job itself.
    expect(
      env.api
        .writes()
        .slice(writes)
        .map((r) => `${r.method} ${r.path}`),
    ).toEqual(['POST /api/v2/jobs/users-exports']);
  }, 60_000); // 2,500 users through every stand-in: generous on a loaded 2-core CI machine

  it('the PATCH holds app_metadata.crm as the login path stores it, and nothing else', async () => {
    const now = Date.now();
    env.api.seedUsers(3, (i) => {
      const user = seededUser(
        i,
        seededCrmMetadata(i, {
          namespace: NAMESPACE,
          syncedAt: new Date(now - 86_400_000),
          freshUntil: endOfSyncDay(new Date(now - 86_400_000), 'UTC'),
          outdated: i === 1,
        }),
      );
      return { ...user, app_metadata: { ...user.app_metadata, plan: 'kept' } };
    });
    const run = await env.stack.run({ location: await env.stack.exportTenant(), workers: 2 });
    expect(run.counts).toMatchObject({ checked: 3, changed: 1, unchanged: 2 });

    const [patch, ...others] = patches();
    expect(others).toEqual([]);
    expect(patch?.path).toBe('/api/v2/users/sms|user-1');
    const body = patch?.body as { app_metadata: { crm: Record<string, unknown> } };
    expect(Object.keys(body)).toEqual(['app_metadata']);
    expect(Object.keys(body.app_metadata)).toEqual(['crm']);
    const stored = body.app_metadata.crm;
    expect(stored).toEqual({
      id: 'C-0000001',
      synced_at: expect.any(String),
      fresh_until: endOfSyncDay(new Date(), 'UTC').toISOString(),
      namespace: NAMESPACE,
      fields: { crm_id: 'C-0000001', name: 'Customer 0000001' },
    });
    expect(Date.parse(stored.synced_at as string)).toBeGreaterThanOrEqual(now);
    // app_metadata is merged: the other keys of the profile stay.
    expect(env.api.users.get('sms|user-1')?.app_metadata).toMatchObject({
      plan: 'kept',
      crm: stored,
    });
  });
});
