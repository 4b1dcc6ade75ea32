import { afterEach, describe, expect, it } from 'vitest';
import { lazyManagementClient } from '#shared/composition/auth0-management.ts';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { startSecretsManagerServer } from '#stand-ins/secrets-manager-server.ts';

/**
 * The backfill's Management API client re-reads the M2M credentials from Secrets Manager: every
 * 5 minutes, and at once when Auth0 refuses them, so a rotated client secret needs no redeploy.
 */

const SECRET = 'arn:aws:secretsmanager:eu-west-1:1:secret:auth0';
const MINUTE = 60_000;

let api: ManagementApi;
let sm: Awaited<ReturnType<typeof startSecretsManagerServer>>;
afterEach(async () => {
  await sm.close();
  await api.close();
});

async function start(options: { clientSecret?: string; secretHolds: string }) {
  api = await startManagementApi(
    options.clientSecret ? { clientSecret: options.clientSecret } : {},
  );
  sm = await startSecretsManagerServer({
    [SECRET]: JSON.stringify({ clientId: api.clientId, clientSecret: options.secretHolds }),
  });
  const clock = { now: 1_000_000 };
  const management = lazyManagementClient({
    domain: api.domain,
    secretId: SECRET,
    secretsManager: sm.client(),
    fetch: api.fetch,
    clock: () => clock.now,
  });
  return { management, clock };
}

const listActions = async (client: Awaited<ReturnType<ReturnType<typeof lazyManagementClient>>>) =>
  (await client.actions.list()).data;

describe('the Auth0 credentials of the backfill', () => {
  it('after the client secret was rotated and put in Secrets Manager, the next call works without a redeploy', async () => {
    // This container read the old secret; Auth0 now holds only the rotated one.
    const { management, clock } = await start({
      clientSecret: 'rotated-secret',
      secretHolds: 'old-secret',
    });
    const before = await management();
    await expect(listActions(before)).rejects.toMatchObject({ statusCode: 401 });

    sm.set(SECRET, JSON.stringify({ clientId: api.clientId, clientSecret: 'rotated-secret' }));
    clock.now += 1_000;
    const after = await management();
    expect(after).not.toBe(before);
    await expect(listActions(after)).resolves.toEqual([]);
    expect(sm.calls).toHaveLength(2);
  });

  it('a token Auth0 stopped accepting (401) is replaced by a client that works, at most one new token per 30 s', async () => {
    const { management, clock } = await start({ secretHolds: 'test-client-secret' });
    const first = await management();
    await listActions(first);
    api.revokeTokens();
    await expect(listActions(first)).rejects.toMatchObject({ statusCode: 401 });
    // Every batch asks for the client; a grant that stays wrong must not mint a token each time.
    clock.now += 10_000;
    expect(await management()).toBe(first);
    expect(api.tokenRequests).toBe(1);

    clock.now += 20_000;
    const second = await management();
    expect(second).not.toBe(first);
    await expect(listActions(second)).resolves.toEqual([]);
    expect(api.tokenRequests).toBe(2);
  });

  it('a scope granted after a 403 insufficient_scope takes effect within 30 s, with no redeploy', async () => {
    const { management, clock } = await start({ secretHolds: 'test-client-secret' });
    api.setGrantedScopes(['read:users']);
    const first = await management();
    await expect(listActions(first)).rejects.toMatchObject({ statusCode: 403 });
    // The operator grants read:actions; the old token still lacks it, so a new one is needed.
    api.setGrantedScopes(['read:users', 'read:actions']);
    clock.now += 30_000;
    const second = await management();
    expect(second).not.toBe(first);
    await expect(listActions(second)).resolves.toEqual([]);
  });

  it('keeps one client while nothing changes, re-reading the secret every 5 minutes', async () => {
    const { management, clock } = await start({ secretHolds: 'test-client-secret' });
    const first = await management();
    clock.now += 4 * MINUTE;
    expect(await management()).toBe(first);
    expect(sm.calls).toHaveLength(1);

    clock.now += 2 * MINUTE;
    expect(await management()).toBe(first);
    expect(sm.calls).toHaveLength(2);
    await listActions(first);
    expect(api.tokenRequests).toBe(1);

    // Another value (another M2M application, say) makes a new client within 5 minutes.
    sm.set(SECRET, JSON.stringify({ clientSecret: 'test-client-secret', clientId: api.clientId }));
    clock.now += 6 * MINUTE;
    const next = await management();
    expect(next).not.toBe(first);
    await expect(listActions(next)).resolves.toEqual([]);
  });

  it('when Secrets Manager is down at a re-read, the client already made goes on serving', async () => {
    const { management, clock } = await start({ secretHolds: 'test-client-secret' });
    const first = await management();
    sm.setDown(true);
    clock.now += 6 * MINUTE;
    const same = await management();
    expect(same).toBe(first);
    await expect(listActions(same)).resolves.toEqual([]);
  });

  it('a secret still holding the placeholder fails naming it, and the credentials put next are used', async () => {
    const { management, clock } = await start({ secretHolds: 'test-client-secret' });
    sm.set(SECRET, JSON.stringify({ clientId: 'set-me', clientSecret: 'generated' }));
    await expect(management()).rejects.toThrow(/still holds its placeholder/);

    sm.set(SECRET, JSON.stringify({ clientId: api.clientId, clientSecret: 'test-client-secret' }));
    clock.now += 1_000;
    await expect(listActions(await management())).resolves.toEqual([]);
  });
});
