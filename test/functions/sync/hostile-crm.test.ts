import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type HostileCrm, startHostileCrm } from '#stand-ins/crm-server.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { gzipBomb, type HostileBehaviour } from '#stand-ins/hostile-crm.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import { type SyncHarness, startSyncHarness } from '#test/support/sync-harness.ts';

const MiB = 1024 * 1024;
const ADA = { id: ADA_LOVELACE.id, name: ADA_LOVELACE.name };
let h: SyncHarness;
let crm: HostileCrm;
let elsewhere: HostileCrm;
let userSeq = 0;
const newUser = () => `sms|hostile-${++userSeq}`;
const login = (userId: string) => ({ body: { user_id: userId, phone_number: ADA_LOVELACE.phone } });

beforeAll(async () => {
  gzipBomb(300 * MiB); // built once here, not inside the lookup's deadline
  crm = await startHostileCrm({ body: ADA });
  elsewhere = await startHostileCrm({ body: { id: 'C-EVIL', name: 'Mallory' } });
  // The breaker is tested on its own below; here every hostile answer must reach the CRM.
  h = await startSyncHarness({ crmUrl: crm.url, env: { CRM_BREAKER_FAILURES: '0' } });
});
afterAll(async () => {
  await h.close();
  await crm.close();
  await elsewhere.close();
});
afterEach(() => crm.behave({ body: ADA }));

const storedStatus = async (userId: string) => {
  const { Item } = await h.dynamodb.send(
    new GetItemCommand({ TableName: h.tableName, Key: { user_id: { S: userId } } }),
  );
  return Item?.status?.S;
};

const hostile: Record<string, () => HostileBehaviour> = {
  'a 302 to another origin': () => ({ kind: 'redirect', status: 302, to: `${elsewhere.url}` }),
  'a 307 to another origin (would re-send the body)': () => ({
    kind: 'redirect',
    status: 307,
    to: `${elsewhere.url}`,
  }),
  'a 300 MiB gzip bomb': () => ({ kind: 'gzip-bomb', inflatedBytes: 300 * MiB }),
  '50 MiB chunked without content-length': () => ({ kind: 'stream', totalBytes: 50 * MiB }),
  'a content-length of 2 MiB': () => ({ kind: 'lying-length', declared: 2 * MiB, sent: 16 }),
  'a body that never ends': () => ({ kind: 'drip', intervalMs: 50 }),
};

describe('a hostile CRM at login', () => {
  for (const [what, behaviour] of Object.entries(hostile)) {
    it(`${what}: a new user gets 503, nothing is stamped, nothing reaches another origin`, async () => {
      const user = newUser();
      const seenElsewhere = elsewhere.requests.length;
      crm.behave(behaviour());
      const res = await h.invoke(login(user));
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('crm_unavailable');
      expect(JSON.stringify(res.body)).not.toMatch(/EVIL|Mallory/);
      expect(await storedStatus(user)).toBeUndefined();
      expect(elsewhere.requests.length).toBe(seenElsewhere);
    });
  }

  it('a redirect never carries the API key anywhere: the other origin never hears of us', async () => {
    crm.behave({ kind: 'redirect', status: 308, to: elsewhere.url });
    await h.invoke(login(newUser()));
    const leaked = elsewhere.requests.filter(
      (r) => r.headers['x-api-key'] === TEST_SECRETS.crmApiKey,
    );
    expect(leaked).toEqual([]);
  });

  it('a known user whose CRM turned hostile keeps the last known data, as stale', async () => {
    const user = newUser();
    const first = await h.invoke(login(user));
    expect(first.body.status).toBe('synced');
    h.clock.now += 24 * 3600 * 1000;
    crm.behave({ kind: 'redirect', status: 302, to: elsewhere.url });
    const res = await h.invoke(login(user));
    expect(res.body).toMatchObject({ status: 'stale', crm_id: ADA_LOVELACE.id });
    h.clock.now -= 24 * 3600 * 1000;
  });
});
