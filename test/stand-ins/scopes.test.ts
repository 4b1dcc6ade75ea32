import { ManagementError } from 'auth0';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WritePace } from '#shared/adapters/adaptive-pace.ts';
import { ActionInstaller } from '#shared/adapters/auth0-action-installer.ts';
import { MissingScopeError } from '#shared/adapters/auth0-errors.ts';
import { Auth0ProfileWriter } from '#shared/adapters/auth0-profile-writer.ts';
import { Auth0UserExport } from '#shared/adapters/auth0-user-export.ts';
import { DEFAULT_GRANTED_SCOPES } from '#stand-ins/auth0-management-api/oauth-token.ts';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { failure } from '#test/support/rejection.ts';

/**
 * The M2M application's grant, through the real code paths: the stand-in refuses a route whose
 * scope the token lacks with Auth0's 403 insufficient_scope (stand-ins/auth0-management-api/
 * scopes.ts), and each part of the project turns that into an error naming the scope to grant.
 */

let api: ManagementApi;
beforeEach(async () => {
  api = await startManagementApi();
});
afterEach(() => api.close());

/** The default grant without these scopes; a fresh client, since a token keeps its scopes. */
function clientWithout(...missing: string[]) {
  api.setGrantedScopes(DEFAULT_GRANTED_SCOPES.filter((s) => !missing.includes(s)));
  return api.client({ maxRetries: 0 });
}

const noPace: WritePace = { take: async () => 0, accepted: () => {}, refused: () => {} };

const metadata = {
  id: 'C-1',
  synced_at: '2026-12-01T00:00:00.000Z',
  fresh_until: '2026-12-02T00:00:00.000Z',
  namespace: 'https://crm.example.com/',
  fields: { crm_id: 'C-1' },
};

describe('Management API scopes', () => {
  it("a token without the route's scope gets Auth0's 403 insufficient_scope body", async () => {
    api.seedUsers(1);
    const client = clientWithout('read:users');
    const error = await failure(client.users.get('sms|user-0'));
    expect(error).toBeInstanceOf(ManagementError);
    expect((error as ManagementError).statusCode).toBe(403);
    expect((error as ManagementError).body).toEqual({
      statusCode: 403,
      error: 'Forbidden',
      message:
        'Insufficient scope, expected any of: read:users, read:current_user, read:user_idp_tokens',
      errorCode: 'insufficient_scope',
    });
    // A client that got its token before the grant changed keeps the old scopes (a JWT's).
    api.setGrantedScopes(undefined);
    await expect(client.users.get('sms|user-0')).rejects.toThrow(/Insufficient scope/);
    await expect(api.client().users.get('sms|user-0')).resolves.toMatchObject({
      user_id: 'sms|user-0',
    });
  });

  it('the backfill export without read:users fails naming read:users', async () => {
    const exporter = new Auth0UserExport(clientWithout('read:users'), api.fetch);
    const error = await failure(exporter.start());
    expect(error).toBeInstanceOf(MissingScopeError);
    expect((error as MissingScopeError).scopes).toEqual(['read:users']);
    expect((error as Error).message).toMatch(
      /may not start a user export.*grant it the scope read:users/,
    );
    expect(api.jobs.size).toBe(0);
  });

  it('polling the export job needs read:users (or create:users)', async () => {
    const jobId = await new Auth0UserExport(api.client(), api.fetch).start();
    const exporter = new Auth0UserExport(clientWithout('read:users'), api.fetch);
    const error = await failure(exporter.status(jobId));
    expect((error as MissingScopeError).scopes).toEqual(['create:users', 'read:users']);
  });

  it('the profile writer without update:users_app_metadata and update:users fails naming both', async () => {
    api.seedUsers(1);
    const writer = new Auth0ProfileWriter(
      clientWithout('update:users_app_metadata', 'update:users'),
      noPace,
    );
    const error = await failure(writer.writeCrmMetadata('sms|user-0', metadata));
    expect(error).toBeInstanceOf(MissingScopeError);
    // update:current_user_metadata is for a user's own token: not advice for an M2M app.
    expect((error as MissingScopeError).scopes).toEqual([
      'update:users',
      'update:users_app_metadata',
    ]);
    expect((error as Error).message).toMatch(/update:users or update:users_app_metadata/);
    expect(api.users.get('sms|user-0')?.app_metadata).toEqual({});
  });

  it('the profile writer needs only one of them: update:users_app_metadata will do', async () => {
    api.seedUsers(1);
    const writer = new Auth0ProfileWriter(clientWithout('update:users'), noPace);
    await writer.writeCrmMetadata('sms|user-0', metadata);
    expect(api.users.get('sms|user-0')?.app_metadata).toEqual({ crm: metadata });
  });

  it('the installer without update:actions fails naming it when the Action is to change', async () => {
    const spec = {
      name: 'auth0-crm-sync',
      code: 'exports.onExecutePostLogin = async () => {};\n',
      position: 'last' as const,
      secrets: { SYNC_API_URL: 'https://sync.acme.test/v1/sync' },
    };
    await new ActionInstaller(api.client(), { pollMs: 5 }).apply(spec);
    const installer = new ActionInstaller(clientWithout('update:actions'), { pollMs: 5 });
    const error = await failure(installer.apply({ ...spec, code: `${spec.code}// v2\n` }));
    expect(error).toBeInstanceOf(MissingScopeError);
    expect((error as MissingScopeError).scopes).toEqual(['update:actions']);
    expect((error as Error).message).toMatch(/grant it the scope update:actions/);
  });

  it('the installer on an empty tenant without create:actions fails naming it', async () => {
    const installer = new ActionInstaller(clientWithout('create:actions'), { pollMs: 5 });
    const error = await failure(
      installer.apply({
        name: 'auth0-crm-sync',
        code: 'exports.onExecutePostLogin = async () => {};\n',
        position: 'last',
        secrets: {},
      }),
    );
    expect((error as MissingScopeError).scopes).toEqual(['create:actions']);
    expect(api.actions.size).toBe(0);
  });
});
