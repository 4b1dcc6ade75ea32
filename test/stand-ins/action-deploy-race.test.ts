import { Management, type ManagementClient } from 'auth0';
import { afterEach, describe, expect, it } from 'vitest';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { rejection } from '#test/support/rejection.ts';

/**
 * The Management API stand-in deploys as Auth0 does: the deploy answers at once, the version
 * goes live a moment later (deployPolls GETs of the action), and until then a binding naming the
 * action is refused with Auth0's 400. Driven through the real `auth0` SDK.
 */

let api: ManagementApi;
afterEach(() => api.close());

const postLogin = [{ id: 'post-login' as const, version: 'v3' }];

async function createBuilt(client: ManagementClient, code: string): Promise<string> {
  const { id = '' } = await client.actions.create({
    name: 'crm-sync',
    supported_triggers: postLogin,
    code,
  });
  await client.actions.get(id);
  return id;
}

const bindOurs = (client: ManagementClient, id: string) =>
  client.actions.triggers.bindings.updateMany('post-login', {
    bindings: [{ ref: { type: 'action_id', value: id } }],
  });

describe('deploying an Action on a tenant whose deploys take effect late', () => {
  it('answers the deploy before the version is live, and refuses to bind it until then', async () => {
    api = await startManagementApi({ deployPolls: 2 });
    const client = api.client();
    const id = await createBuilt(client, 'v1');

    const version = await client.actions.deploy(id);
    expect(version).toMatchObject({ action_id: id, number: 1, deployed: false, status: 'built' });
    const refused = await rejection(bindOurs(client, id));
    expect(refused).toBeInstanceOf(Management.BadRequestError);
    expect(refused.body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'Trying to create a binding for an action that has not been deployed yet.',
    });

    expect((await client.actions.get(id)).deployed_version).toBeUndefined();
    expect(await client.actions.get(id)).toMatchObject({
      all_changes_deployed: true,
      deployed_version: { id: version.id, number: 1, deployed: true },
    });
    const bound = await bindOurs(client, id);
    expect(bound.bindings?.map((b) => b.action?.id)).toEqual([id]);
  });

  it('keeps running the live version of a bound Action until the new deploy takes effect', async () => {
    api = await startManagementApi({ deployPolls: 1 });
    const client = api.client();
    const id = await createBuilt(client, 'v1');
    await client.actions.deploy(id);
    await client.actions.get(id);
    await bindOurs(client, id);

    await client.actions.update(id, { code: 'v2' });
    await client.actions.get(id);
    const second = await client.actions.deploy(id);
    expect(second).toMatchObject({ number: 2, deployed: false });
    expect(api.deployedCode(id)).toBe('v1');
    const live = await client.actions.get(id);
    expect(live.deployed_version).toMatchObject({ id: second.id, number: 2, code: 'v2' });
    expect(api.deployedCode(id)).toBe('v2');
    expect(api.bindings.map((b) => b.action_id)).toEqual([id]);
  });

  it('a deploy that never takes effect (deployPolls: Infinity) stays unbindable', async () => {
    api = await startManagementApi({ deployPolls: Number.POSITIVE_INFINITY });
    const client = api.client();
    const id = await createBuilt(client, 'v1');
    await client.actions.deploy(id);
    for (let i = 0; i < 5; i += 1) await client.actions.get(id);
    expect((await client.actions.get(id)).deployed_version).toBeUndefined();
    expect((await rejection(bindOurs(client, id))).statusCode).toBe(400);
  });

  it('a failed build is answered as failed and cannot be deployed', async () => {
    api = await startManagementApi();
    api.setBuildResult('failed');
    const client = api.client();
    const id = await createBuilt(client, 'syntax error(');
    expect((await client.actions.get(id)).status).toBe('failed');
    const refused = await rejection(client.actions.deploy(id));
    expect(refused.body).toMatchObject({ message: /must be in the 'built' state/ });
  });
});
