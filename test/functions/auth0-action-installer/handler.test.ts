import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createInstallerHandler } from '#functions/auth0-action-installer/handler.ts';
import { lambdaContext } from '#stand-ins/api-gateway-events.ts';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { startSecretsManagerServer } from '#stand-ins/secrets-manager-server.ts';

const SIGNING = 'arn:aws:secretsmanager:eu-west-1:1:secret:signing';
const AUTH0 = 'arn:aws:secretsmanager:eu-west-1:1:secret:auth0';
/** The installer's Lambda as the stack deploys it (infra/constructs/action-installation.ts). */
const INSTALLER = { functionName: 'crm-sync-action-installer', timeoutMs: 5 * 60_000 };

let api: ManagementApi;
let sm: Awaited<ReturnType<typeof startSecretsManagerServer>>;
let cfn: { url: string; responses: Array<Record<string, unknown>>; close(): void };

/** CloudFormation's side of the protocol: the pre-signed URL the handler PUTs its outcome to. */
async function startResponseEndpoint() {
  const responses: Array<Record<string, unknown>> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      responses.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/presigned`, responses, close: () => server.close() };
}

beforeEach(async () => {
  // As on Auth0, a deploy takes effect a moment later and a binding before then is refused.
  api = await startManagementApi({ buildPolls: 2, deployPolls: 2 });
  sm = await startSecretsManagerServer({
    [SIGNING]: JSON.stringify({ current: 'cr-signing-new', previous: 'cr-signing-old' }),
    [AUTH0]: JSON.stringify({ clientId: api.clientId, clientSecret: api.clientSecret }),
  });
  cfn = await startResponseEndpoint();
});
afterEach(async () => {
  cfn.close();
  await sm.close();
  await api.close();
});

function event(
  requestType: 'Create' | 'Update' | 'Delete',
  physicalId?: string,
  properties: Record<string, string> = {},
) {
  return {
    RequestType: requestType,
    ResponseURL: cfn.url,
    StackId: 'arn:aws:cloudformation:eu-west-1:1:stack/test/1',
    RequestId: `req-${requestType}`,
    LogicalResourceId: 'Auth0ActionAction',
    ResourceType: 'Custom::Auth0PostLoginAction',
    ServiceToken: 'arn:aws:lambda:eu-west-1:1:function:installer',
    ...(physicalId ? { PhysicalResourceId: physicalId } : {}),
    ResourceProperties: {
      ServiceToken: 'arn:aws:lambda:eu-west-1:1:function:installer',
      ActionName: 'auth0-crm-sync',
      Position: 'last',
      Code: 'exports.onExecutePostLogin = async () => {};',
      SyncApiUrl: 'https://sync.acme.test/v1/sync',
      SigningSecretArn: SIGNING,
      Auth0SecretArn: AUTH0,
      Auth0Domain: api.domain,
      FailMode: 'open',
      ...properties,
    },
  } as unknown as CloudFormationCustomResourceEvent;
}

/** A tenant as slow as `timings`, in place of the one beforeEach started. */
async function restartTenant(timings: { buildPolls?: number; deployPolls?: number }) {
  await api.close();
  api = await startManagementApi(timings);
  sm.set(AUTH0, JSON.stringify({ clientId: api.clientId, clientSecret: api.clientSecret }));
}

/** Installer time on a test clock that each wait advances: the waits are exact and instant. */
function testClock() {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    options: {
      pollMs: 100,
      clock: () => now,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        now += ms;
      },
    },
  };
}

describe('the Action installer custom resource', () => {
  it('Create installs and binds with the current signing secret; Delete unbinds, others stay', async () => {
    api.seedAction({ name: 'fraud-check', bound: true });
    const handler = createInstallerHandler({
      secretsManager: sm.client(),
      fetch: api.fetch,
      installer: { pollMs: 5 },
    });
    await handler(event('Create'), lambdaContext(INSTALLER));
    expect(cfn.responses[0]).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'auth0-action:auth0-crm-sync',
    });
    expect(api.bindings.map((b) => b.display_name)).toEqual(['fraud-check', 'auth0-crm-sync']);
    const ours = [...api.actions.values()].find((a) => a.name === 'auth0-crm-sync');
    expect(api.secretValues(ours?.id ?? '')).toMatchObject({
      SYNC_SIGNING_SECRET: 'cr-signing-new',
    });
    expect(JSON.stringify(cfn.responses)).not.toContain('cr-signing');

    await handler(event('Delete', 'auth0-action:auth0-crm-sync'), lambdaContext(INSTALLER));
    expect(cfn.responses[1]).toMatchObject({ Status: 'SUCCESS' });
    expect(api.bindings.map((b) => b.display_name)).toEqual(['fraud-check']);
  });

  it("the rollback's Delete after a failed Create still takes ours out of the flow, others stay", async () => {
    // A Create that failed after its bind had gone through (cut at the deadline, a 5xx whose
    // write landed): CloudFormation deletes the ':failed' resource, and no login may go on
    // calling an API the rollback removes.
    api.seedAction({ name: 'fraud-check', bound: true });
    api.seedAction({ name: 'auth0-crm-sync', bound: true });
    const handler = createInstallerHandler({ secretsManager: sm.client(), fetch: api.fetch });
    await handler(event('Delete', 'auth0-action:auth0-crm-sync:failed'), lambdaContext(INSTALLER));
    expect(cfn.responses[0]).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'auth0-action:auth0-crm-sync:failed',
      Reason: 'unbound after a failed install',
    });
    expect(api.bindings.map((b) => b.display_name)).toEqual(['fraud-check']);
  });

  it("the rollback's Delete succeeds even when the Auth0 credentials were never set", async () => {
    sm.set(AUTH0, JSON.stringify({ clientId: 'set-me', clientSecret: 'generated' }));
    const handler = createInstallerHandler({ secretsManager: sm.client(), fetch: api.fetch });
    await handler(event('Delete', 'auth0-action:auth0-crm-sync:failed'), lambdaContext(INSTALLER));
    expect(cfn.responses[0]).toMatchObject({ Status: 'SUCCESS' });
    expect(api.writes()).toEqual([]);
  });

  it('reports FAILED with a reason naming the secret (not a hang) when the Auth0 credentials were never set', async () => {
    sm.set(AUTH0, JSON.stringify({ clientId: 'set-me', clientSecret: 'generated' }));
    const handler = createInstallerHandler({ secretsManager: sm.client(), fetch: api.fetch });
    await handler(event('Create'), lambdaContext(INSTALLER));
    expect(cfn.responses[0]).toMatchObject({ Status: 'FAILED' });
    const reason = String(cfn.responses[0]?.Reason);
    expect(reason).toMatch(/"auth0-crm-sync".*still holds its placeholder/);
    expect(reason).toMatch(/SetAuth0CredentialsCommand/);
    expect(reason).toContain(AUTH0);
    expect(reason).not.toContain('generated');
    expect(api.requests).toEqual([]);
    // Deleting a resource whose creation failed touches nothing.
    await handler(
      event('Delete', String(cfn.responses[0]?.PhysicalResourceId)),
      lambdaContext(INSTALLER),
    );
    expect(cfn.responses[1]).toMatchObject({ Status: 'SUCCESS' });
  });

  it('passes ACCESS_TOKEN_CLAIMS and METADATA_WRITES to the Action; an unchanged Update writes nothing', async () => {
    const handler = createInstallerHandler({
      secretsManager: sm.client(),
      fetch: api.fetch,
      installer: { pollMs: 5 },
    });
    const settings = { AccessTokenClaims: 'true', MetadataWrites: 'daily' };
    await handler(event('Create', undefined, settings), lambdaContext(INSTALLER));
    expect(cfn.responses[0]).toMatchObject({ Status: 'SUCCESS' });
    const [ours] = api.actions.values();
    expect(api.secretValues(ours?.id ?? '')).toMatchObject({
      ACCESS_TOKEN_CLAIMS: 'true',
      METADATA_WRITES: 'daily',
    });

    const writes = api.writes().length;
    await handler(
      event('Update', 'auth0-action:auth0-crm-sync', settings),
      lambdaContext(INSTALLER),
    );
    expect(cfn.responses[1]).toMatchObject({ Status: 'SUCCESS' });
    expect(api.writes().length).toBe(writes);

    await handler(
      event('Update', 'auth0-action:auth0-crm-sync', { ...settings, MetadataWrites: 'on_change' }),
      lambdaContext(INSTALLER),
    );
    expect(api.secretValues(ours?.id ?? '')).toMatchObject({ METADATA_WRITES: 'on_change' });
    // A change of setting updates and redeploys the Action; its binding stays as it was.
    expect(
      api
        .writes()
        .slice(writes)
        .map((w) => `${w.method} ${w.path}`),
    ).toEqual([
      `PATCH /api/v2/actions/actions/${ours?.id}`,
      `POST /api/v2/actions/actions/${ours?.id}/deploy`,
    ]);
  });

  it('refuses a METADATA_WRITES the Action cannot read, naming it', async () => {
    const handler = createInstallerHandler({ secretsManager: sm.client(), fetch: api.fetch });
    await handler(
      event('Create', undefined, { MetadataWrites: 'weekly' }),
      lambdaContext(INSTALLER),
    );
    expect(cfn.responses[0]).toMatchObject({ Status: 'FAILED' });
    expect(String(cfn.responses[0]?.Reason)).toMatch(/METADATA_WRITES may not be "weekly"/);
  });

  it('reports FAILED naming the Action when Auth0 fails to build it', async () => {
    api.setBuildResult('failed');
    const handler = createInstallerHandler({
      secretsManager: sm.client(),
      fetch: api.fetch,
      installer: { pollMs: 5 },
    });
    await handler(event('Create'), lambdaContext(INSTALLER));
    expect(cfn.responses[0]).toMatchObject({ Status: 'FAILED' });
    expect(String(cfn.responses[0]?.Reason)).toMatch(/failed to build the Action "auth0-crm-sync"/);
  });

  it('reports FAILED naming the missing scope when the M2M application may not bind', async () => {
    api.failNext(
      1,
      {
        status: 403,
        body: {
          statusCode: 403,
          error: 'Forbidden',
          message: 'Insufficient scope, expected any of: update:actions',
          errorCode: 'insufficient_scope',
        },
      },
      (r) => r.method === 'PATCH' && r.path.endsWith('/bindings'),
    );
    const handler = createInstallerHandler({
      secretsManager: sm.client(),
      fetch: api.fetch,
      installer: { pollMs: 5 },
    });
    await handler(event('Create'), lambdaContext(INSTALLER));
    expect(cfn.responses[0]).toMatchObject({ Status: 'FAILED' });
    expect(String(cfn.responses[0]?.Reason)).toMatch(
      /MissingScopeError: .*bind the Action "auth0-crm-sync" to post-login: grant it the scope update:actions/,
    );
  });

  describe('when its Lambda has little time left', () => {
    // 32 s left, of which the installer keeps 30 s to answer: about 2 s to wait for Auth0.
    const shortOfTime = () => lambdaContext({ ...INSTALLER, timeoutMs: 32_000 });

    /** A Create on a tenant as slow as `timings`, on the test clock; its waits, in ms. */
    async function createShortOfTime(timings: { buildPolls?: number; deployPolls?: number }) {
      await restartTenant(timings);
      const time = testClock();
      const handler = createInstallerHandler({
        secretsManager: sm.client(),
        fetch: api.fetch,
        installer: time.options,
      });
      await handler(event('Create'), shortOfTime());
      return time.sleeps;
    }

    it('answers FAILED, saying it ran out of time, while Auth0 is still building the Action', async () => {
      const sleeps = await createShortOfTime({ buildPolls: 1_000 });
      expect(cfn.responses).toHaveLength(1);
      expect(cfn.responses[0]).toMatchObject({ Status: 'FAILED' });
      expect(String(cfn.responses[0]?.Reason)).toMatch(
        /^InstallDeadlineError: ran out of time waiting for Auth0 to build the Action "auth0-crm-sync"/,
      );
      // It stopped at its deadline, not at the build's own 2-minute bound.
      expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2_000);
      expect(api.requests.filter((r) => r.path.endsWith('/deploy'))).toEqual([]);
      expect(api.bindings).toEqual([]);
    });

    it('answers FAILED, saying it ran out of time, while the deploy is not live yet', async () => {
      const sleeps = await createShortOfTime({ deployPolls: 1_000 });
      expect(cfn.responses[0]).toMatchObject({ Status: 'FAILED' });
      expect(String(cfn.responses[0]?.Reason)).toMatch(
        /^InstallDeadlineError: ran out of time waiting for Auth0 to make the deployed version 1 of the Action "auth0-crm-sync" .*live/,
      );
      expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2_000);
      expect(api.bindings).toEqual([]);
    });
  });
});
