import { afterEach, describe, expect, it } from 'vitest';
import {
  ActionInstaller,
  type ActionInstallSpec,
  type InstallerOptions,
} from '#shared/adapters/auth0-action-installer.ts';
import { InstallDeadlineError } from '#shared/adapters/auth0-action-readiness.ts';
import { MissingScopeError } from '#shared/adapters/auth0-errors.ts';
import {
  type ManagementApi,
  type ManagementApiOptions,
  startManagementApi,
} from '#stand-ins/auth0-management-api/server.ts';

/**
 * The install on a tenant that, like Auth0, builds and deploys asynchronously: the installer
 * waits for each step to take effect, within bounds, and its errors name the Action or scope.
 * Time is a test clock that each wait advances, so the bounds are exact and instant.
 */

const spec: ActionInstallSpec = {
  name: 'auth0-crm-sync',
  code: 'exports.onExecutePostLogin = async () => {};\n',
  position: 'last',
  secrets: {
    SYNC_API_URL: 'https://sync.acme.test/v1/sync',
    SYNC_SIGNING_SECRET: 'install-race-secret-0001',
  },
};
const NOT_DEPLOYED_YET = {
  status: 400,
  body: {
    statusCode: 400,
    error: 'Bad Request',
    message: 'Trying to create a binding for an action that has not been deployed yet.',
  },
};

// Auth0's refusal of a deploy whose draft it has not (yet) seen built, word for word as the
// Deploy CLI matches it (auth0/auth0-deploy-cli src/tools/auth0/handlers/actions.ts).
const NOT_BUILT_YET = {
  status: 400,
  body: {
    statusCode: 400,
    error: 'Bad Request',
    message: "A draft must be in the 'built' state before it can be deployed.",
  },
};

let api: ManagementApi;
let sleeps: number[];
afterEach(() => api.close());

async function start(options: ManagementApiOptions, installerOptions: InstallerOptions = {}) {
  api = await startManagementApi(options);
  sleeps = [];
  let now = 0;
  return new ActionInstaller(api.client({ maxRetries: 0 }), {
    pollMs: 100,
    clock: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    ...installerOptions,
  });
}

const isBindingWrite = (r: { method: string; path: string }) =>
  r.method === 'PATCH' && r.path === '/api/v2/actions/triggers/post-login/bindings';
const isDeploy = (r: { method: string; path: string }) =>
  r.method === 'POST' && r.path.endsWith('/deploy');
const bindingWrites = () => api.requests.filter(isBindingWrite).length;
const actionReads = (id: string) =>
  api.requests.filter((r) => r.method === 'GET' && r.path === `/api/v2/actions/actions/${id}`)
    .length;

describe('installing while Auth0 builds and deploys asynchronously', () => {
  it('waits until the deployed version is live, then binds with a single PATCH', async () => {
    const installer = await start({ buildPolls: 2, deployPolls: 3 });
    api.seedAction({ name: 'fraud-check', bound: true });
    const result = await installer.apply(spec);
    expect(result.steps.map((s) => s.kind)).toEqual(['create_action', 'deploy_action', 'bind']);
    expect(api.bindings.map((b) => b.display_name)).toEqual(['fraud-check', 'auth0-crm-sync']);
    expect(api.actions.get(result.actionId)?.deployed_version).toMatchObject({ deployed: true });
    expect(bindingWrites()).toBe(1);
    // Two GETs until built, three until the deploy is live; a wait between each of them.
    expect(actionReads(result.actionId)).toBe(5);
    expect(sleeps).toEqual([100, 100, 100]);
  });

  it('an update waits for its own new version, not the one already live', async () => {
    const installer = await start({ deployPolls: 2 });
    const first = await installer.apply(spec);
    const changed = { ...spec, code: `${spec.code}// v2\n` };
    const second = await installer.apply(changed);
    expect(second.steps.map((s) => s.kind)).toEqual(['update_action', 'deploy_action']);
    expect(api.deployedCode(first.actionId)).toContain('// v2');
    expect(api.actions.get(first.actionId)?.deployed_version?.number).toBe(2);
  });

  it('retries a binding Auth0 still refuses as "not deployed yet", doubling the wait', async () => {
    const installer = await start({});
    api.failNext(2, NOT_DEPLOYED_YET, isBindingWrite);
    await installer.apply(spec);
    expect(api.bindings.map((b) => b.display_name)).toEqual(['auth0-crm-sync']);
    expect(bindingWrites()).toBe(3);
    expect(sleeps.slice(-2)).toEqual([100, 200]);
  });

  it('gives up binding after its retries, with an error naming the Action', async () => {
    const installer = await start({}, { bindRetries: 2 });
    api.failNext(10, NOT_DEPLOYED_YET, isBindingWrite);
    await expect(installer.apply(spec)).rejects.toThrow(
      /bind the Action "auth0-crm-sync" as not deployed yet after 3 attempts/,
    );
    expect(bindingWrites()).toBe(3);
  });

  it('a failed build fails the install naming the Action, and deploys nothing', async () => {
    const installer = await start({});
    api.setBuildResult('failed');
    await expect(installer.apply(spec)).rejects.toThrow(
      /failed to build the Action "auth0-crm-sync" \(id [\w-]+\)/,
    );
    expect(api.requests.filter((r) => r.path.endsWith('/deploy'))).toEqual([]);
    expect(bindingWrites()).toBe(0);
  });

  it('a deploy that never goes live fails after deployTimeoutMs naming the Action, unbound', async () => {
    const installer = await start(
      { deployPolls: Number.POSITIVE_INFINITY },
      { deployTimeoutMs: 1_000 },
    );
    await expect(installer.apply(spec)).rejects.toThrow(
      /did not make the deployed version 1 of the Action "auth0-crm-sync" .* live within 1000 ms/,
    );
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(1_000);
    expect(bindingWrites()).toBe(0);
  });

  it('a missing scope fails the install naming the scope and the step', async () => {
    const installer = await start({});
    api.failNext(
      1,
      {
        status: 403,
        body: {
          statusCode: 403,
          error: 'Forbidden',
          message: 'Insufficient scope, expected any of: create:actions',
          errorCode: 'insufficient_scope',
        },
      },
      (r) => r.method === 'POST' && r.path === '/api/v2/actions/actions',
    );
    const failure = await installer.apply(spec).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(MissingScopeError);
    expect((failure as MissingScopeError).scopes).toEqual(['create:actions']);
    expect((failure as Error).message).toMatch(
      /may not create the Action "auth0-crm-sync": grant it the scope create:actions/,
    );
  });

  it('retries a deploy refused as not built (a GET that still saw the old build), waiting for the build again', async () => {
    const installer = await start({});
    const first = await installer.apply(spec);
    api.failNext(1, NOT_BUILT_YET, isDeploy);
    const reads = actionReads(first.actionId);
    const second = await installer.apply({ ...spec, code: `${spec.code}// v2\n` });
    expect(second.steps.map((s) => s.kind)).toEqual(['update_action', 'deploy_action']);
    expect(api.requests.filter(isDeploy)).toHaveLength(3);
    expect(api.deployedCode(first.actionId)).toContain('// v2');
    // GET (built), refused deploy, a wait, GET (built again), deploy, GET (live).
    expect(actionReads(first.actionId) - reads).toBe(3);
    expect(sleeps.at(-1)).toBe(100);
  });

  it('gives up a deploy still refused as not built after its retries, naming the Action', async () => {
    const installer = await start({}, { deployRetries: 2 });
    api.failNext(10, NOT_BUILT_YET, isDeploy);
    await expect(installer.apply(spec)).rejects.toThrow(
      /refused to deploy the Action "auth0-crm-sync" \(id [\w-]+\) as not built after 3 attempts/,
    );
    expect(api.requests.filter(isDeploy)).toHaveLength(3);
    expect(bindingWrites()).toBe(0);
  });

  it('stops retrying the binding at its deadline, saying it ran out of time for the Action', async () => {
    // Bind retries wait 100, 200, 400, ... ms: the third would end past the deadline at 500 ms.
    const installer = await start({}, { deadline: 500 });
    api.failNext(10, NOT_DEPLOYED_YET, isBindingWrite);
    const failure = await installer.apply(spec).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InstallDeadlineError);
    expect((failure as Error).message).toMatch(
      /ran out of time waiting for Auth0 to accept the binding of the Action "auth0-crm-sync"/,
    );
    expect(sleeps).toEqual([100, 200]);
    expect(bindingWrites()).toBe(3);
  });

  it('a call whose SDK is sleeping between retries is cut the moment time is up', async () => {
    api = await startManagementApi({});
    // A 429 whose bucket refills in 30 s: the SDK, left its retries, sleeps until then on a
    // plain timer (auth0 core/fetcher/requestWithRetries.js), which no abort signal reaches;
    // only the installer's own race cuts it.
    const reset = String(Math.ceil(Date.now() / 1000) + 30);
    api.failNext(
      10,
      {
        status: 429,
        headers: {
          'x-ratelimit-limit': '10',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': reset,
        },
        body: {
          statusCode: 429,
          error: 'Too Many Requests',
          message: 'Global limit has been reached',
          errorCode: 'too_many_requests',
        },
      },
      (r) => r.method === 'GET',
    );
    const cut = new AbortController();
    const installer = new ActionInstaller(api.client({ maxRetries: 5 }), { signal: cut.signal });
    const failure = installer.apply(spec).catch((error: unknown) => error);
    // Cut once the first attempt has been answered, i.e. while the SDK sleeps before the second.
    while (api.requests.filter((r) => r.path.startsWith('/api/v2/')).length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    cut.abort();
    expect(await failure).toBeInstanceOf(InstallDeadlineError);
    expect(api.requests.filter((r) => r.path.startsWith('/api/v2/'))).toHaveLength(1);
  });

  it('every Management API call honours the abort signal (time is up), the error naming the step', async () => {
    const installer = await start({}, { signal: AbortSignal.abort() });
    await expect(installer.apply(spec)).rejects.toThrow(
      /ran out of time waiting for Auth0's answer \(read the Actions\)/,
    );
    expect(api.writes()).toEqual([]);
  });
});
