import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { gunzipSync } from 'node:zlib';
import { Management, ManagementClient } from 'auth0';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { generatedPhone } from '#stand-ins/demo-data.ts';
import { rejection } from '#test/support/rejection.ts';

let api: ManagementApi;

beforeEach(async () => {
  api = await startManagementApi();
});

afterEach(async () => {
  await api.close();
});

const postLogin = [{ id: 'post-login' as const, version: 'v3' }];

async function collect<T>(page: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of page) items.push(item);
  return items;
}

async function builtAndDeployed(client: ManagementClient, name: string) {
  const action = await client.actions.create({
    name,
    supported_triggers: postLogin,
    code: `// ${name}`,
  });
  const id = action.id ?? '';
  await client.actions.get(id);
  await client.actions.deploy(id);
  return id;
}

describe('auth0 management server: token', () => {
  it('issues one client-credentials token that the SDK reuses on every call', async () => {
    const client = api.client();
    await client.actions.create({ name: 'a', supported_triggers: postLogin, code: '//' });
    await collect(await client.actions.list({ actionName: 'a' }));
    await collect(await client.actions.triggers.bindings.list('post-login'));

    expect(api.tokenRequests).toBe(1);
    const tokenRequest = api.requests.find((r) => r.path === '/oauth/token');
    expect(tokenRequest?.body).toMatchObject({
      grant_type: 'client_credentials',
      client_id: 'test-client-id',
      client_secret: 'test-client-secret',
      audience: 'https://tenant.example.auth0.com/api/v2/',
    });
    const bearers = new Set(
      api.requests.filter((r) => r.path.startsWith('/api/v2/')).map((r) => r.headers.authorization),
    );
    expect(bearers.size).toBe(1);
    expect([...bearers][0]).toMatch(/^Bearer \S+$/);
  });

  it('refuses wrong credentials, a missing token and unknown routes in Auth0 error shapes', async () => {
    const wrong = new ManagementClient({
      domain: api.domain,
      clientId: api.clientId,
      clientSecret: 'not-the-secret',
      fetch: api.fetch,
    });
    const denied = await rejection(wrong.actions.get('x'));
    expect(denied.statusCode).toBe(401);
    expect(denied.body).toEqual({ error: 'access_denied', error_description: 'Unauthorized' });

    const anonymous = await api.fetch(`https://${api.domain}/api/v2/actions/actions`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'Invalid token',
    });

    const client = api.client();
    const unknown = await rejection(client.actions.get('no-such-action'));
    expect(unknown).toBeInstanceOf(Management.NotFoundError);
    api.revokeTokens();
    expect(await rejection(client.actions.get('x'))).toBeInstanceOf(Management.UnauthorizedError);
  });
});

describe('auth0 management server: actions', () => {
  it('builds asynchronously, refuses to deploy a draft before it is built, then deploys', async () => {
    const client = api.client();
    const created = await client.actions.create({
      name: 'crm-sync',
      supported_triggers: postLogin,
      code: 'v1',
      runtime: 'node22',
      secrets: [{ name: 'SYNC_API_URL', value: 'https://sync.example' }],
    });
    const id = created.id ?? '';
    expect(created).toMatchObject({
      name: 'crm-sync',
      status: 'pending',
      all_changes_deployed: false,
      dependencies: [],
    });
    expect(created.secrets?.map((s) => Object.keys(s).sort())).toEqual([['name', 'updated_at']]);

    const early = await rejection(client.actions.deploy(id));
    expect(early).toBeInstanceOf(Management.BadRequestError);
    expect(early.body).toMatchObject({
      message: "A draft must be in the 'built' state before it can be deployed.",
    });

    expect((await client.actions.get(id)).status).toBe('built');
    const version = await client.actions.deploy(id);
    expect(version).toMatchObject({ action_id: id, code: 'v1', number: 1, deployed: true });
    expect(await client.actions.get(id)).toMatchObject({
      all_changes_deployed: true,
      deployed_version: { number: 1 },
    });
    expect(api.deployedCode(id)).toBe('v1');

    const updated = await client.actions.update(id, {
      code: 'v2',
      secrets: [{ name: 'SYNC_SIGNING_SECRET', value: 'rotated' }],
    });
    expect(updated).toMatchObject({ status: 'pending', all_changes_deployed: false, code: 'v2' });
    expect(api.secretValues(id)).toEqual({ SYNC_SIGNING_SECRET: 'rotated' });
    expect(api.deployedCode(id)).toBe('v1');
    await client.actions.get(id);
    expect((await client.actions.deploy(id)).number).toBe(2);
    expect(api.deployedCode(id)).toBe('v2');
  });

  it('lists by exact name and trigger, paginates to the end, and rejects a duplicate', async () => {
    const client = api.client();
    for (const name of ['one', 'two', 'one-more']) {
      await client.actions.create({ name, supported_triggers: postLogin, code: name });
    }
    const found = await collect(
      await client.actions.list({ actionName: 'one', triggerId: 'post-login' }),
    );
    expect(found.map((a) => a.name)).toEqual(['one']);
    const all = await collect(await client.actions.list({ per_page: 2 }));
    expect(all.map((a) => a.name)).toEqual(['one', 'two', 'one-more']);

    const duplicate = await rejection(
      client.actions.create({ name: 'two', supported_triggers: postLogin, code: '' }),
    );
    expect(duplicate.statusCode).toBe(409);
  });

  it('takes as many GETs to build as buildPolls says', async () => {
    const slow = await startManagementApi({ buildPolls: 3 });
    try {
      const client = slow.client();
      const { id = '' } = await client.actions.create({ name: 'x', supported_triggers: postLogin });
      const statuses = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await client.actions.get(id)).status);
      expect(statuses).toEqual(['building', 'building', 'built']);
    } finally {
      await slow.close();
    }
  });
});

describe('auth0 management server: post-login bindings', () => {
  it('keeps the order written, binding ids, and refuses undeployed or unknown actions', async () => {
    const client = api.client();
    const first = await builtAndDeployed(client, 'first');
    const second = await builtAndDeployed(client, 'second');
    const third = await builtAndDeployed(client, 'third');

    const written = await client.actions.triggers.bindings.updateMany('post-login', {
      bindings: [
        { ref: { type: 'action_id', value: second } },
        { ref: { type: 'action_name', value: 'first' }, display_name: 'First!' },
      ],
    });
    expect(written.bindings?.map((b) => b.action?.id)).toEqual([second, first]);
    const ids = written.bindings?.map((b) => b.id ?? '') ?? [];

    await client.actions.triggers.bindings.updateMany('post-login', {
      bindings: [
        { ref: { type: 'binding_id', value: ids[1] ?? '' } },
        { ref: { type: 'action_id', value: third } },
        { ref: { type: 'binding_id', value: ids[0] ?? '' } },
      ],
    });
    const listed = await collect(await client.actions.triggers.bindings.list('post-login'));
    expect(listed.map((b) => b.display_name)).toEqual(['First!', 'third', 'second']);
    expect(listed[0]?.id).toBe(ids[1]);
    expect(listed[2]?.id).toBe(ids[0]);
    expect(listed[0]).toMatchObject({ trigger_id: 'post-login', action: { name: 'first' } });
    expect(api.bindings.map((b) => b.action_id)).toEqual([first, third, second]);

    const { id: draft = '' } = await client.actions.create({
      name: 'draft',
      supported_triggers: postLogin,
    });
    for (const value of [draft, 'no-such-action']) {
      const refused = await rejection(
        client.actions.triggers.bindings.updateMany('post-login', {
          bindings: [{ ref: { type: 'action_id', value } }],
        }),
      );
      expect(refused).toBeInstanceOf(Management.BadRequestError);
    }
    expect(api.bindings).toHaveLength(3);

    // The SDK fetches the first page inside list(), so that is what rejects.
    const otherTrigger = await rejection(
      client.actions.triggers.bindings.list('credentials-exchange'),
    );
    expect(otherTrigger.statusCode).toBe(404);
    expect((await rejection(client.actions.delete(first))).statusCode).toBe(409);
    await client.actions.delete(draft);
    expect(api.actions.has(draft)).toBe(false);
  });

  it('answers seeded actions and bindings, and records no writes for reads', async () => {
    const other = api.seedAction({ name: 'someone-elses', bound: true });
    const client = api.client();
    const listed = await collect(await client.actions.triggers.bindings.list('post-login'));
    expect(listed.map((b) => b.action?.id)).toEqual([other.id]);
    expect(api.writes()).toEqual([]);
  });
});

describe('auth0 management server: faults and rate limits', () => {
  it('a 429 with retry-after: 1 is retried by the SDK and then succeeds', async () => {
    const client = api.client();
    await collect(await client.actions.triggers.bindings.list('post-login'));
    api.failNext(1, { status: 429, headers: { 'retry-after': '1' } });
    const started = Date.now();
    const page = await client.actions.list({ actionName: 'anything' });
    expect(page.data).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(api.requests.filter((r) => r.path === '/api/v2/actions/actions')).toHaveLength(2);
  });

  it('a persistent 503 surfaces as an error', async () => {
    const client = api.client({ maxRetries: 0 });
    api.failNext(5, { status: 503 });
    const failed = await rejection(client.actions.get('whatever'));
    expect(failed.statusCode).toBe(503);
    expect(failed.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect(api.requests.filter((r) => r.path.startsWith('/api/v2/'))).toHaveLength(1);
  });

  it('rate-limits /api/v2 with a token bucket and x-ratelimit-* headers', async () => {
    const client = api.client({ maxRetries: 0 });
    api.seedUsers(1);
    await client.users.get('sms|user-0');
    api.setRateLimit(2);
    const ok = await client.users.get('sms|user-0').withRawResponse();
    expect(ok.rawResponse.headers.get('x-ratelimit-limit')).toBe('2');
    expect(ok.rawResponse.headers.get('x-ratelimit-remaining')).toBe('1');
    await client.users.get('sms|user-0');
    const limited = await rejection(client.users.get('sms|user-0'));
    expect(limited).toBeInstanceOf(Management.TooManyRequestsError);
    const headers = limited.rawResponse?.headers;
    expect(headers?.get('x-ratelimit-remaining')).toBe('0');
    // Auth0 sends Retry-After only for custom rate-limit policies (see rate-limits.ts).
    expect(headers?.get('retry-after')).toBeNull();
    expect(Number(headers?.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(
      Math.floor(Date.now() / 1000),
    );
    api.setRateLimit(undefined);
    await client.users.get('sms|user-0');
  });
});

describe('auth0 management server: users', () => {
  it('merges app_metadata on PATCH, removes null keys, empties it on {}, and counts writes', async () => {
    api.users.set('sms|ada', {
      user_id: 'sms|ada',
      phone_number: '+15550100001',
      app_metadata: { plan: 'gold' },
    });
    const client = api.client();
    const first = await client.users.update('sms|ada', {
      app_metadata: { crm: { contactId: 'c-1' } },
    });
    expect(first.app_metadata).toEqual({ plan: 'gold', crm: { contactId: 'c-1' } });
    await client.users.update('sms|ada', { app_metadata: { plan: null } });
    expect(api.users.get('sms|ada')?.app_metadata).toEqual({ crm: { contactId: 'c-1' } });
    expect(api.userWrites).toBe(2);
    expect(api.requests.at(-1)?.path).toBe('/api/v2/users/sms|ada');

    // An empty object removes the metadata completely (manage-metadata-api.mdx).
    await client.users.update('sms|ada', { app_metadata: {} });
    expect(api.users.get('sms|ada')?.app_metadata).toEqual({});
    expect(api.userWrites).toBe(3);

    const missing = await rejection(client.users.update('sms|nobody', { app_metadata: {} }));
    expect(missing).toBeInstanceOf(Management.NotFoundError);
    expect(api.userWrites).toBe(3);
  });

  it('exports 2,500 users as gzipped NDJSON with the requested fields', async () => {
    api.seedUsers(2500, (i) => ({
      user_id: `sms|user-${i}`,
      phone_number: generatedPhone(i),
      app_metadata: i % 2 === 0 ? { crm: { contactId: `c-${i}` }, other: true } : {},
      ...(i === 1 ? { email: 'one@example.test' } : {}),
    }));
    const client = api.client();
    const job = await client.jobs.usersExports.create({
      format: 'json',
      fields: [
        { name: 'user_id' },
        { name: 'phone_number' },
        { name: 'email' },
        { name: 'app_metadata.crm', export_as: 'crm' },
      ],
    });
    expect(job).toMatchObject({ type: 'users_export', status: 'pending', format: 'json' });
    const done = await client.jobs.get(job.id);
    expect(done.status).toBe('completed');
    // A pre-signed S3-style link, as Auth0's: it expires (test/stand-ins/user-exports.test.ts).
    expect(done.location).toMatch(
      /^http:\/\/127\.0\.0\.1:\d+\/exports\/job_\w+\.json\.gz\?X-Amz-Date=\d{8}T\d{6}Z&X-Amz-Expires=60&/,
    );

    const response = await api.fetch(done.location ?? '');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-encoding')).toBeNull();
    const chunks: Buffer[] = [];
    for await (const chunk of Readable.fromWeb(response.body as WebReadableStream)) {
      chunks.push(chunk as Buffer);
    }
    const lines = gunzipSync(Buffer.concat(chunks)).toString('utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(2500);
    const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows[0]).toEqual({
      user_id: 'sms|user-0',
      phone_number: '+15550000000',
      crm: { contactId: 'c-0' },
    });
    expect(rows[1]).toEqual({
      user_id: 'sms|user-1',
      phone_number: '+15550000001',
      email: 'one@example.test',
    });
    expect(new Set(rows.map((r) => r.user_id)).size).toBe(2500);
  });
});
