import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { deployAction } from '#tools/deploy-action.ts';

let api: ManagementApi;
let env: Record<string, string>;
beforeEach(async () => {
  // As on Auth0, a deploy takes effect a moment later and a binding before then is refused.
  api = await startManagementApi({ deployPolls: 2 });
  env = {
    AUTH0_DOMAIN: api.domain,
    AUTH0_CLIENT_ID: api.clientId,
    AUTH0_CLIENT_SECRET: api.clientSecret,
    SYNC_API_URL: 'https://sync.acme.test/v1/sync',
    SYNC_SIGNING_SECRET: 'deploy-test-signing-secret-42',
    FAIL_MODE: 'closed',
  };
});
afterEach(() => api.close());

describe('npm run action:deploy', () => {
  it('--dry-run prints the plan, names the secrets but never their values, and changes nothing', async () => {
    api.seedAction({ name: 'fraud-check', bound: true });
    const { text } = await deployAction(env, { dryRun: true, fetch: api.fetch });
    expect(text).toMatch(/1\. create Action "auth0-crm-sync"/);
    expect(text).toMatch(/SYNC_API_URL, SYNC_SIGNING_SECRET, FAIL_MODE/);
    expect(text).toMatch(/fraud-check → auth0-crm-sync/);
    expect(text).not.toContain(env.SYNC_SIGNING_SECRET);
    expect(api.writes()).toEqual([]);
  });

  it('installs the built Action, then a second run says there is nothing to do', async () => {
    const first = await deployAction(env, {
      dryRun: false,
      fetch: api.fetch,
      installer: { pollMs: 5 },
    });
    expect(first.plan.steps.map((s) => s.kind)).toEqual(['create_action', 'deploy_action', 'bind']);
    const [action] = api.actions.values();
    expect(action?.code).toContain('onExecutePostLogin');
    expect(api.secretValues(action?.id ?? '')).toMatchObject({ FAIL_MODE: 'closed' });
    const second = await deployAction(env, { dryRun: false, fetch: api.fetch });
    expect(second.text).toMatch(/^nothing to do/);
  });

  it('refuses missing settings with a message naming them', async () => {
    const { SYNC_API_URL: _, ...missing } = env;
    await expect(deployAction(missing, { dryRun: true, fetch: api.fetch })).rejects.toThrow(
      /SYNC_API_URL/,
    );
  });

  it('passes ACCESS_TOKEN_CLAIMS and METADATA_WRITES to the Action as secrets', async () => {
    const settings = {
      ...env,
      ACCESS_TOKEN_CLAIMS: 'true',
      CLAIM_NAMESPACE: 'https://crm.acme.test/',
      METADATA_WRITES: 'daily',
    };
    const { text } = await deployAction(settings, { dryRun: true, fetch: api.fetch });
    expect(text).toMatch(/ACCESS_TOKEN_CLAIMS, METADATA_WRITES/);
    await deployAction(settings, { dryRun: false, fetch: api.fetch, installer: { pollMs: 5 } });
    const [action] = api.actions.values();
    expect(api.secretValues(action?.id ?? '')).toMatchObject({
      ACCESS_TOKEN_CLAIMS: 'true',
      METADATA_WRITES: 'daily',
    });
    const again = await deployAction(settings, { dryRun: false, fetch: api.fetch });
    expect(again.text).toMatch(/^nothing to do/);
  });

  it('refuses a METADATA_WRITES other than on_change or daily, naming it', async () => {
    await expect(
      deployAction({ ...env, METADATA_WRITES: 'weekly' }, { dryRun: true, fetch: api.fetch }),
    ).rejects.toThrow(/METADATA_WRITES/);
  });

  it('with ACCESS_TOKEN_CLAIMS=true, refuses a missing or non-URL CLAIM_NAMESPACE, naming both', async () => {
    const claims = { ...env, ACCESS_TOKEN_CLAIMS: 'true' };
    await expect(deployAction(claims, { dryRun: true, fetch: api.fetch })).rejects.toThrow(
      /CLAIM_NAMESPACE \(with ACCESS_TOKEN_CLAIMS=true\): must be set/,
    );
    await expect(
      deployAction({ ...claims, CLAIM_NAMESPACE: 'crm' }, { dryRun: true, fetch: api.fetch }),
    ).rejects.toThrow(
      /CLAIM_NAMESPACE \(with ACCESS_TOKEN_CLAIMS=true\): "crm" is not an http\(s\) URL/,
    );
    expect(api.requests).toEqual([]);
    // Without the claims on access tokens the namespace is the service's concern alone.
    const { text } = await deployAction(
      { ...env, ACCESS_TOKEN_CLAIMS: 'false', CLAIM_NAMESPACE: 'crm' },
      { dryRun: true, fetch: api.fetch },
    );
    expect(text).toMatch(/create Action "auth0-crm-sync"/);
  });
});
