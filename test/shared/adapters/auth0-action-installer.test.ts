import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ActionInstaller,
  type ActionInstallSpec,
} from '#shared/adapters/auth0-action-installer.ts';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';

const CODE = 'exports.onExecutePostLogin = async () => {};\n';
const spec = (over: Partial<ActionInstallSpec> = {}): ActionInstallSpec => ({
  name: 'auth0-crm-sync',
  code: CODE,
  position: 'last',
  secrets: {
    SYNC_API_URL: 'https://sync.acme.test/v1/sync',
    SYNC_SIGNING_SECRET: 'installer-test-secret-0001',
  },
  ...over,
});

let api: ManagementApi;
let installer: ActionInstaller;
beforeEach(async () => {
  api = await startManagementApi({ buildPolls: 2 });
  installer = new ActionInstaller(api.client({ maxRetries: 3 }), { pollMs: 5 });
});
afterEach(() => api.close());

const boundNames = () => api.bindings.map((b) => b.display_name);

describe('installing the Action as code', () => {
  it('on an empty tenant: creates, waits for the build, deploys and binds it with its secrets', async () => {
    const result = await installer.apply(spec());
    expect(result.steps.map((s) => s.kind)).toEqual(['create_action', 'deploy_action', 'bind']);
    expect(boundNames()).toEqual(['auth0-crm-sync']);
    const action = [...api.actions.values()][0];
    expect(action?.runtime).toBe('node22');
    expect(action?.supported_triggers).toEqual([{ id: 'post-login', version: 'v3' }]);
    expect(api.deployedCode(result.actionId)).toContain('onExecutePostLogin');
    expect(api.secretValues(result.actionId)).toEqual(spec().secrets);
  });

  it('a second run changes nothing and writes nothing', async () => {
    await installer.apply(spec());
    const writesBefore = api.writes().length;
    const again = await installer.apply(spec());
    expect(again.steps).toEqual([]);
    expect(api.writes().length).toBe(writesBefore);
    expect((await installer.plan(spec())).steps).toEqual([]);
  });

  it('keeps two other bound Actions and their order, ours at the chosen position', async () => {
    api.seedAction({ name: 'fraud-check', bound: true });
    api.seedAction({ name: 'mfa-policy', bound: true });
    await installer.apply(spec({ position: 1 }));
    expect(boundNames()).toEqual(['fraud-check', 'auth0-crm-sync', 'mfa-policy']);
    const moved = await installer.apply(spec({ position: 'first' }));
    expect(moved.steps.map((s) => s.kind)).toEqual(['bind']);
    expect(boundNames()).toEqual(['auth0-crm-sync', 'fraud-check', 'mfa-policy']);
  });

  it('an update of the code (or a secret) updates, rebuilds and redeploys, binding untouched', async () => {
    api.seedAction({ name: 'fraud-check', bound: true });
    const first = await installer.apply(spec());
    const bindingIds = api.bindings.map((b) => b.id);
    const changed = await installer.apply(spec({ code: `${CODE}// v2\n` }));
    expect(changed.steps.map((s) => s.kind)).toEqual(['update_action', 'deploy_action']);
    expect(api.deployedCode(first.actionId)).toContain('// v2');
    expect(api.bindings.map((b) => b.id)).toEqual(bindingIds);
    const rotated = await installer.apply(
      spec({
        code: `${CODE}// v2\n`,
        secrets: { ...spec().secrets, SYNC_SIGNING_SECRET: 'rotated-secret-0002' },
      }),
    );
    expect(rotated.steps.map((s) => s.kind)).toEqual(['update_action', 'deploy_action']);
    expect(api.secretValues(first.actionId).SYNC_SIGNING_SECRET).toBe('rotated-secret-0002');
  });

  it('a dry run plans without writing', async () => {
    api.seedAction({ name: 'fraud-check', bound: true });
    const plan = await installer.plan(spec({ position: 'first' }));
    expect(plan.steps.map((s) => s.kind)).toEqual(['create_action', 'deploy_action', 'bind']);
    expect(plan.order).toEqual(['auth0-crm-sync', 'fraud-check']);
    expect(api.writes()).toEqual([]);
  });

  it('rides out a 429 with Retry-After (the SDK retries it)', async () => {
    api.failNext(1, { status: 429, headers: { 'retry-after': '1' }, body: { statusCode: 429 } });
    const result = await installer.apply(spec());
    expect(result.steps.map((s) => s.kind)).toContain('bind');
    expect(boundNames()).toEqual(['auth0-crm-sync']);
  });

  it('a persistent 5xx fails the install with the status, and a later run completes it', async () => {
    const failing = new ActionInstaller(api.client({ maxRetries: 0 }), { pollMs: 5 });
    api.failNext(
      1,
      { status: 503, body: { statusCode: 503, error: 'Service Unavailable' } },
      (r) => r.path.endsWith('/bindings') && r.method === 'PATCH',
    );
    await expect(failing.apply(spec())).rejects.toMatchObject({ statusCode: 503 });
    expect(boundNames()).toEqual([]);
    const retried = await installer.apply(spec());
    expect(retried.steps.map((s) => s.kind)).toEqual(['bind']);
    expect(boundNames()).toEqual(['auth0-crm-sync']);
  });

  it('unbinding (stack removal) takes ours out and leaves the others in order', async () => {
    api.seedAction({ name: 'fraud-check', bound: true });
    await installer.apply(spec({ position: 'first' }));
    api.seedAction({ name: 'mfa-policy', bound: true });
    await installer.unbind('auth0-crm-sync');
    expect(boundNames()).toEqual(['fraud-check', 'mfa-policy']);
    expect((await installer.unbind('auth0-crm-sync')).steps).toEqual([]);
  });
});
