import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildAction } from '#infra/action-bundle.ts';
import { serveApiGateway } from '#stand-ins/api-gateway.ts';
import {
  type LoginResult,
  loadBuiltAction,
  simulateLogin,
  type TenantUser,
} from '#stand-ins/auth0-action-runtime.ts';
import { ADA_LOVELACE, UNKNOWN_PHONE } from '#stand-ins/demo-data.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import { type SyncHarness, startSyncHarness } from '#test/support/sync-harness.ts';

const NS = 'https://crm.example.com/';
let action: ReturnType<typeof loadBuiltAction>;
let code: string;
let stack: SyncHarness;
let api: Awaited<ReturnType<typeof serveApiGateway>>;
let syncCalls = 0;
let secrets: Record<string, string>;
let seq = 0;

beforeAll(async () => {
  const built = await buildAction('dist/auth0/post-login.js');
  code = built.code;
  action = loadBuiltAction(built.path);
  stack = await startSyncHarness({ realTime: true });
  api = await serveApiGateway(async (event, context) => {
    syncCalls++;
    return stack.handler(event, context);
  });
  secrets = { SYNC_API_URL: `${api.url}/v1/sync`, SYNC_SIGNING_SECRET: TEST_SECRETS.signing };
});
afterAll(async () => {
  await api.close();
  await stack.close();
});
afterEach(() => {
  stack.crm.answer(undefined);
  vi.useRealTimers();
});

const ada = (): TenantUser => ({
  user_id: `sms|action-${++seq}`,
  phone_number: ADA_LOVELACE.phone,
  app_metadata: {},
});

async function login(
  user: TenantUser,
  options: { secrets?: Record<string, string>; protocol?: string } = {},
) {
  const before = syncCalls;
  const result = await simulateLogin(action, user, {
    secrets: options.secrets ?? secrets,
    ...(options.protocol ? { protocol: options.protocol } : {}),
  });
  return { ...result, calls: syncCalls - before };
}

const expectNoFault = (r: LoginResult) => {
  expect(r.threw).toBeUndefined();
  expect(r.timedOut).toBe(false);
};

describe('the built Action file', () => {
  it('is one CommonJS file exporting onExecutePostLogin that needs only Node built-ins', () => {
    expect(typeof action.onExecutePostLogin).toBe('function');
    const required = [...code.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]);
    expect(required.length).toBeGreaterThan(0);
    for (const name of required) expect(name).toMatch(/^node:/);
    expect(code.length).toBeLessThan(100 * 1024);
  });
});

describe('logins', () => {
  it('first login: one call, claims on the ID token, app_metadata.crm written once', async () => {
    const user = ada();
    const r = await login(user);
    expectNoFault(r);
    expect(r.calls).toBe(1);
    expect(r.idToken).toEqual({
      [`${NS}crm_id`]: ADA_LOVELACE.id,
      [`${NS}name`]: ADA_LOVELACE.name,
    });
    expect(r.accessToken).toEqual({});
    expect(r.metadataWrites).toBe(1);
    expect(user.app_metadata.crm).toMatchObject({ id: ADA_LOVELACE.id, namespace: NS });
  });

  it('second login: no call at all, no write, identical claims', async () => {
    const user = ada();
    const first = await login(user);
    const second = await login(user);
    expectNoFault(second);
    expect(second.calls).toBe(0);
    expect(second.metadataWrites).toBe(0);
    expect(second.idToken).toEqual(first.idToken);
  });

  it('a refresh-token exchange never calls out, even with stale metadata', async () => {
    const user = ada();
    const first = await login(user);
    (user.app_metadata.crm as Record<string, unknown>).fresh_until = '2000-01-01T00:00:00.000Z';
    const refresh = await login(user, { protocol: 'oauth2-refresh-token' });
    expect(refresh.calls).toBe(0);
    expect(refresh.metadataWrites).toBe(0);
    expect(refresh.idToken).toEqual(first.idToken);
  });

  it('stale metadata with unchanged CRM data: one call, the same claims, no write (on_change)', async () => {
    const user = ada();
    const first = await login(user);
    (user.app_metadata.crm as Record<string, unknown>).fresh_until = '2000-01-01T00:00:00.000Z';
    const r = await login(user);
    expect(r.calls).toBe(1);
    expect(r.metadataWrites).toBe(0);
    expect(r.idToken).toEqual(first.idToken);
    expect((user.app_metadata.crm as { fresh_until: string }).fresh_until).toBe(
      '2000-01-01T00:00:00.000Z',
    );
  });

  it('stale metadata is rewritten with its new fresh_until under METADATA_WRITES=daily', async () => {
    const user = ada();
    const daily = { secrets: { ...secrets, METADATA_WRITES: 'daily' } };
    await login(user, daily);
    (user.app_metadata.crm as Record<string, unknown>).fresh_until = '2000-01-01T00:00:00.000Z';
    const r = await login(user, daily);
    expect(r.calls).toBe(1);
    expect(r.metadataWrites).toBe(1);
    expect(
      Date.parse((user.app_metadata.crm as { fresh_until: string }).fresh_until),
    ).toBeGreaterThan(Date.now());
  });

  it('sets the claims on the access token too when ACCESS_TOKEN_CLAIMS is true', async () => {
    const r = await login(ada(), { secrets: { ...secrets, ACCESS_TOKEN_CLAIMS: 'true' } });
    expect(r.accessToken).toEqual(r.idToken);
    expect(Object.keys(r.accessToken)).toHaveLength(2);
  });

  it('the default namespaced claims reach an access token for the Management API too', async () => {
    const r = await simulateLogin(action, ada(), {
      secrets: { ...secrets, ACCESS_TOKEN_CLAIMS: 'true' },
      audience: 'https://tenant.eu.auth0.com/api/v2/',
    });
    expect(r.droppedClaims).toEqual([]);
    expect(r.accessToken).toEqual({
      [`${NS}crm_id`]: ADA_LOVELACE.id,
      [`${NS}name`]: ADA_LOVELACE.name,
    });
  });

  it('a user the CRM does not know gets no claims, and metadata saying so', async () => {
    const user = { ...ada(), phone_number: UNKNOWN_PHONE };
    const r = await login(user);
    expect(r.idToken).toEqual({});
    expect(user.app_metadata.crm).toMatchObject({ id: null, fields: {} });
  });

  it('a user without phone number or email makes no call and logs in without claims', async () => {
    const user: TenantUser = { user_id: 'sms|no-phone', app_metadata: {} };
    const r = await login(user, { secrets: { ...secrets, FAIL_MODE: 'closed' } });
    expect(r.calls).toBe(0);
    expect(r.denied).toBeUndefined();
    expect(r.idToken).toEqual({});
  });

  it('a user with only an email, on a phone-matching deployment: the service refuses, the login goes on', async () => {
    const user: TenantUser = { user_id: 'email|only', email: 'ada@example.com', app_metadata: {} };
    const r = await login(user);
    expect(r.calls).toBe(1);
    expect(r.denied).toBeUndefined();
    expect(r.idToken).toEqual({});
    expect(r.metadataWrites).toBe(0);
  });
});

describe('when the sync API fails', () => {
  it('fail open (default): the login goes on with the claims of earlier metadata', async () => {
    const user = ada();
    const first = await login(user);
    (user.app_metadata.crm as Record<string, unknown>).fresh_until = '2000-01-01T00:00:00.000Z';
    const r = await login(user, {
      secrets: { ...secrets, SYNC_API_URL: 'http://127.0.0.1:9/v1/sync' },
    });
    expectNoFault(r);
    expect(r.denied).toBeUndefined();
    expect(r.idToken).toEqual(first.idToken);
    expect(r.metadataWrites).toBe(0);
  });

  it('fail closed: the login is denied', async () => {
    const r = await login(ada(), {
      secrets: { ...secrets, SYNC_API_URL: 'http://127.0.0.1:9/v1/sync', FAIL_MODE: 'closed' },
    });
    expectNoFault(r);
    expect(r.denied).toMatch(/try again/);
    expect(r.idToken).toEqual({});
  });

  it('a wrong signing secret is a failure (401), handled by the fail mode', async () => {
    const open = await login(ada(), { secrets: { ...secrets, SYNC_SIGNING_SECRET: 'wrong' } });
    expect(open.calls).toBe(1);
    expect(open.denied).toBeUndefined();
    expect(open.metadataWrites).toBe(0);
    const closed = await login(ada(), {
      secrets: { ...secrets, SYNC_SIGNING_SECRET: 'wrong', FAIL_MODE: 'closed' },
    });
    expect(closed.denied).toBeDefined();
  });

  it('a hanging service is cut off by SYNC_TIMEOUT_MS and the login goes on', async () => {
    const hanging: Server = createServer(() => {});
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const { port } = hanging.address() as AddressInfo;
    try {
      const r = await login(ada(), {
        secrets: {
          ...secrets,
          SYNC_API_URL: `http://127.0.0.1:${port}/v1/sync`,
          SYNC_TIMEOUT_MS: '300',
        },
      });
      expectNoFault(r);
      expect(r.denied).toBeUndefined();
    } finally {
      hanging.closeAllConnections();
      hanging.close();
    }
  });

  it('the CRM down for a new user (503): fail open lets the login go on', async () => {
    stack.crm.answer(() => ({ status: 500 }));
    const r = await login(ada());
    expect(r.calls).toBe(1);
    expect(r.denied).toBeUndefined();
    expect(r.metadataWrites).toBe(0);
  });

  it('missing secrets are a failure, not a crash', async () => {
    const r = await login(ada(), { secrets: {} });
    expectNoFault(r);
    expect(r.calls).toBe(0);
    expect(r.denied).toBeUndefined();
  });

  it('never throws, even on a malformed event', async () => {
    await expect(
      action.onExecutePostLogin({} as never, {
        idToken: { setCustomClaim: () => {} },
        accessToken: { setCustomClaim: () => {} },
        user: { setAppMetadata: () => {} },
        access: { deny: () => {} },
      }),
    ).resolves.toBeUndefined();
  });
});

describe('metadata writes', () => {
  it('are skipped when the service answers with what the user already has', async () => {
    const user = ada();
    await login(user);
    const stored = structuredClone(user.app_metadata.crm) as Record<string, unknown>;
    // A service answering exactly the stored metadata (e.g. refreshed by the backfill since).
    const echo = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          user_id: user.user_id,
          status: 'cached',
          crm_id: stored.id,
          synced_at: stored.synced_at,
          fresh_until: stored.fresh_until,
          claims: { [`${NS}crm_id`]: ADA_LOVELACE.id, [`${NS}name`]: ADA_LOVELACE.name },
          app_metadata: { ...stored },
        }),
      );
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const { port } = echo.address() as AddressInfo;
    vi.useFakeTimers({ toFake: ['Date'], now: Date.parse(stored.fresh_until as string) + 1 });
    try {
      const r = await login(user, {
        secrets: { ...secrets, SYNC_API_URL: `http://127.0.0.1:${port}/` },
      });
      expect(r.metadataWrites).toBe(0);
      expect(r.idToken[`${NS}name`]).toBe(ADA_LOVELACE.name);
    } finally {
      vi.useRealTimers();
      echo.close();
    }
  });
});

describe('what the Action logs', () => {
  it('holds no phone number, email, secret or signature', async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args) => {
      lines.push(args.join(' '));
    });
    try {
      await login({ ...ada(), email: 'ada@example.com' });
      await login(ada(), { secrets: { ...secrets, SYNC_SIGNING_SECRET: 'wrong' } });
    } finally {
      spy.mockRestore();
    }
    const text = lines.join('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(text).not.toMatch(/5550100001|ada@example\.com|v1=|t=\d/);
    expect(text).not.toContain(TEST_SECRETS.signing);
  });
});
