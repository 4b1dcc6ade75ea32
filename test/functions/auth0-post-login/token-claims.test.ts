import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAction } from '#infra/action-bundle.ts';
import { loadBuiltAction, simulateLogin } from '#stand-ins/auth0-action-runtime.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';

/*
 * What a login's tokens carry of the claims the Action sets: Auth0 drops restricted claims,
 * Auth0-domain namespaces, and non-URL claims on access tokens for an Auth0 API, silently
 * (auth0/docs-v2 secure/tokens/json-web-tokens/create-custom-claims.mdx).
 */

const MANAGEMENT_API = 'https://tenant.eu.auth0.com/api/v2/';
const claims = {
  'https://crm.example.com/crm_id': ADA_LOVELACE.id,
  name: ADA_LOVELACE.name,
  tier: 'gold',
  sub: 'C-impostor',
  'https://tenant.auth0.com/tier': 'gold',
  'urn:auth0:tier': 'gold',
};
let action: ReturnType<typeof loadBuiltAction>;
let server: Server;
let secrets: Record<string, string>;

beforeAll(async () => {
  const built = await buildAction('node_modules/.cache/action-claims/post-login.js');
  action = loadBuiltAction(built.path);
  // A sync API answering claims a careless CLAIM_NAMESPACE or CLAIM_MAP would produce.
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        status: 'synced',
        claims,
        app_metadata: {
          id: ADA_LOVELACE.id,
          synced_at: new Date().toISOString(),
          fresh_until: new Date(Date.now() + 60_000).toISOString(),
          namespace: '',
          fields: {},
        },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  secrets = {
    SYNC_API_URL: `http://127.0.0.1:${port}/v1/sync`,
    SYNC_SIGNING_SECRET: 'unused-by-this-server',
    ACCESS_TOKEN_CLAIMS: 'true',
  };
});
afterAll(() => {
  server.close();
});

const login = (audience?: string) =>
  simulateLogin(
    action,
    { user_id: 'sms|claims', phone_number: ADA_LOVELACE.phone, app_metadata: {} },
    { secrets, ...(audience ? { audience } : {}) },
  );

describe('claims Auth0 leaves out of the tokens', () => {
  it('a restricted claim (sub) and Auth0-domain namespaces never reach the ID token', async () => {
    const r = await login();
    expect(r.threw).toBeUndefined();
    expect(r.idToken).toEqual({
      'https://crm.example.com/crm_id': ADA_LOVELACE.id,
      name: ADA_LOVELACE.name,
      tier: 'gold',
    });
    const fromIdToken = r.droppedClaims.filter((d) => d.token === 'id_token');
    expect(fromIdToken).toEqual([
      { token: 'id_token', claim: 'sub', reason: 'restricted' },
      { token: 'id_token', claim: 'https://tenant.auth0.com/tier', reason: 'auth0_namespace' },
      { token: 'id_token', claim: 'urn:auth0:tier', reason: 'auth0_namespace' },
    ]);
  });

  it('a custom API access token keeps non-namespaced claims', async () => {
    const r = await login();
    expect(r.accessToken).toEqual(r.idToken);
  });

  it('an access token for an Auth0 API carries only the URL-namespaced claims', async () => {
    const r = await login(MANAGEMENT_API);
    expect(r.accessToken).toEqual({ 'https://crm.example.com/crm_id': ADA_LOVELACE.id });
    expect(r.droppedClaims).toContainEqual({
      token: 'access_token',
      claim: 'tier',
      reason: 'not_namespaced',
    });
    expect(r.droppedClaims).toContainEqual({
      token: 'access_token',
      claim: 'name',
      reason: 'not_namespaced',
    });
    // The ID token does not depend on the access token's audience.
    expect(r.idToken.name).toBe(ADA_LOVELACE.name);
  });

  it('the /userinfo audience is not held to the namespace rule', async () => {
    const r = await login('https://tenant.eu.auth0.com/userinfo');
    expect(r.accessToken.tier).toBe('gold');
  });
});
