import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '#local/stack.ts';
import { sign } from '#shared/domain/signature.ts';
import { type ManagementApi, startManagementApi } from '#stand-ins/auth0-management-api/server.ts';
import { type CrmServer, startCrmServer } from '#stand-ins/crm-server.ts';
import {
  ADA_LOVELACE,
  ALAN_TURING,
  GRACE_HOPPER,
  KATHERINE_JOHNSON,
  SAMPLE_CONTACTS,
  typedPhone,
  UNKNOWN_PHONE,
} from '#stand-ins/demo-data.ts';
import { forbiddenStrings, TEST_SECRETS } from '#test/support/pii.ts';
import { type ExplainRun, runExplain } from '#tools/explain.ts';

/**
 * `npm run explain` against the local stack (in-process, in memory) with a scripted CRM, and
 * the Auth0 Management API stand-in holding the users, read through the real `auth0` SDK.
 */

let crm: CrmServer;
let stack: LocalStack;
let api: ManagementApi;
let dataDir: string;

const record = (c: { id: string; name: string; tier: string }) => ({
  id: c.id,
  name: c.name,
  tier: c.tier,
});

beforeAll(async () => {
  const contacts: Record<string, Record<string, unknown>> = {
    [ADA_LOVELACE.phone]: record(ADA_LOVELACE),
    [ALAN_TURING.phone]: record(ALAN_TURING),
    [KATHERINE_JOHNSON.phone]: record(KATHERINE_JOHNSON),
  };
  crm = await startCrmServer(contacts);
  // Grace's lookups fail: the CRM answers 500 for her. The others: a match, or a 404.
  crm.answer(({ body }) => {
    const phone = body.phoneNumber ?? '';
    if (phone === GRACE_HOPPER.phone) return { status: 500, body: {} };
    const known = contacts[phone];
    return known ? { status: 200, body: known } : { status: 404, body: { error: 'none' } };
  });
  dataDir = mkdtempSync(join(tmpdir(), 'crm-sync-explain-'));
  // No SYNC_SIGNING_SECRET: the stack writes its dev secret to dataDir, as npm start does.
  stack = await startLocalStack(
    {
      LOCAL_DATA_DIR: dataDir,
      CRM_URL: crm.url,
      CRM_API_KEY: TEST_SECRETS.crmApiKey,
      LOG_LEVEL: 'WARN',
    },
    { persist: false, port: 0 },
  );
});
afterAll(async () => {
  await stack?.close();
  await crm?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  api = await startManagementApi();
  return () => api.close();
});

const port = () => new URL(stack.url).port;

/** The shell of an on-call who ran `npm start` on this PORT, plus the M2M credentials. */
function withAuth0(): Record<string, string> {
  return {
    PORT: port(),
    LOCAL_DATA_DIR: dataDir,
    AUTH0_DOMAIN: api.domain,
    AUTH0_CLIENT_ID: api.clientId,
    AUTH0_CLIENT_SECRET: api.clientSecret,
  };
}

function seed(user_id: string, fields: { phone_number?: string; email?: string } = {}) {
  api.users.set(user_id, { user_id, ...fields, app_metadata: {} });
}

/** A login as the Action makes it: a signed POST /v1/sync. Returns the service's answer. */
async function login(user_id: string, phone_number: string) {
  const body = JSON.stringify({ user_id, phone_number });
  const response = await fetch(`${stack.url}/v1/sync`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-sync-signature': sign(stack.secret, Math.floor(Date.now() / 1000), body),
    },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function explain(args: string[], env = withAuth0()): Promise<ExplainRun> {
  const run = await runExplain(args, env, { auth0Fetch: api.fetch });
  expectNoPii(run.stdout + run.stderr);
  return run;
}

/** No phone number, email or secret; nor a mapped claim's value, such as a demo person's name. */
function expectNoPii(text: string): void {
  const names = SAMPLE_CONTACTS.map((c) => c.name);
  for (const value of [...forbiddenStrings(), ...names, stack.secret, api.clientSecret]) {
    expect(text).not.toContain(value);
  }
}

describe('npm run explain, end to end', () => {
  it('a profile without phone number or email: the Action skips the lookup', async () => {
    seed('sms|no-key');
    const run = await explain(['sms|no-key']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(
      /^The Action skips the CRM lookup for sms\|no-key because the profile has neither a phone number nor an email/,
    );
    expect(run.stdout).toContain('phone number: absent, email: absent');
  });

  it('a user the CRM does not know: not in the CRM since the lookup, asked again later', async () => {
    seed('sms|stranger', { phone_number: UNKNOWN_PHONE });
    expect((await login('sms|stranger', UNKNOWN_PHONE)).body.status).toBe('not_found');
    const run = await explain(['sms|stranger']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(
      /^The CRM had no record for sms\|stranger's phone number when asked at /,
    );
    expect(run.stdout).toContain('phone number: present');
    expect(run.stdout).toMatch(/diagnosis: +not_in_crm/);
  });

  it('a user whose CRM lookups fail: since when, with which code, and no claims', async () => {
    seed('sms|grace', { phone_number: GRACE_HOPPER.phone });
    expect((await login('sms|grace', GRACE_HOPPER.phone)).status).toBe(503);
    const run = await explain(['sms|grace', '--json']);
    expect(run.exitCode).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.diagnosis.code).toBe('crm_failing');
    expect(out.service).toMatchObject({
      status: 'failed',
      crm_id: null,
      last_failure: { code: 'http_status' },
    });
    expect(out.diagnosis.sentence).toContain(
      `failed at ${out.service.last_failure.at} (http_status)`,
    );
  });

  it('a synced user whose profile the Action wrote: all good, with the claims named, never their values', async () => {
    seed('sms|ada', { phone_number: ADA_LOVELACE.phone, email: ADA_LOVELACE.email });
    const { body } = await login('sms|ada', ADA_LOVELACE.phone);
    // What the Action does with the answer: api.user.setAppMetadata('crm', answer.app_metadata).
    (api.users.get('sms|ada') as { app_metadata: Record<string, unknown> }).app_metadata.crm =
      body.app_metadata;
    const run = await explain(['sms|ada']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(
      /^sms\|ada is linked to CRM record C-1001 \(synced .*\), and logins get the claims crm_id, name; nothing to do\./,
    );
    expect(run.stdout).toContain('phone number: present, email: present');

    const json = await explain(['sms|ada', '--json']);
    const out = JSON.parse(json.stdout);
    expect(out.service.claims).toEqual([
      'https://crm.example.com/crm_id',
      'https://crm.example.com/name',
    ]);
    expect(out.profile.crm.claim_names).toEqual(out.service.claims);
    for (const text of [run.stdout, json.stdout]) expect(text).not.toContain(ADA_LOVELACE.name);
  });

  it("a user whose stamp retention deleted and whose new lookup failed: the Action fails open with the profile's copy", async () => {
    seed('sms|grace-kept', { phone_number: GRACE_HOPPER.phone });
    // The copy an old login wrote, no longer fresh (functions/auth0-post-login/action.ts).
    (
      api.users.get('sms|grace-kept') as { app_metadata: Record<string, unknown> }
    ).app_metadata.crm = {
      id: GRACE_HOPPER.id,
      synced_at: '2026-09-01T08:00:00.000Z',
      fresh_until: '2026-09-02T00:00:00.000Z',
      namespace: 'https://crm.example.com/',
      fields: { crm_id: GRACE_HOPPER.id, name: GRACE_HOPPER.name },
    };
    expect((await login('sms|grace-kept', GRACE_HOPPER.phone)).status).toBe(503);
    for (const mode of [[], ['--json']]) {
      const run = await explain(['sms|grace-kept', ...mode]);
      expect(run.exitCode).toBe(0);
      expect(run.stdout).toMatch(
        /with FAIL_MODE=open \(the default\) the Action gives the claims of the profile's app_metadata.crm copy \(CRM record C-1002, synced 2026-09-01T08:00:00.000Z: the claims crm_id, name\); with closed, the login is denied/,
      );
      expect(run.stdout).not.toContain(GRACE_HOPPER.name);
    }
  });

  it("--resync looks a never-seen user up with the profile's phone number, then explains again", async () => {
    seed('sms|alan', { phone_number: typedPhone(ALAN_TURING.phone) });
    const before = await explain(['sms|alan']);
    expect(before.stdout).toMatch(/^The sync service has never looked sms\|alan up/);

    const lookups = crm.requests.length;
    const run = await explain(['sms|alan', '--resync']);
    expect(run.exitCode).toBe(0);
    expect(crm.requests.length).toBe(lookups + 1);
    expect(crm.requests.at(-1)?.body.phoneNumber).toBe(ALAN_TURING.phone);
    expect(run.stdout).toMatch(/resync: +200 synced, crm_id C-1003/);
    // Only the Action and the backfill write the profile: the tool says so.
    expect(run.stdout).toMatch(
      /^The sync service holds CRM record C-1003 for sms\|alan .* the next login that asks the sync API writes it \(or the backfill does\)/,
    );
  });

  it('--resync without Auth0 credentials takes --phone, and refuses to guess without it', async () => {
    const local = { PORT: port(), LOCAL_DATA_DIR: dataDir };
    const refused = await explain(['sms|katherine', '--resync'], local);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/--resync needs the match key: set AUTH0_DOMAIN/);

    const run = await explain(
      ['sms|katherine', '--resync', '--phone', KATHERINE_JOHNSON.phone, '--json'],
      local,
    );
    expect(run.exitCode).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({
      resync: { http_status: 200, status: 'synced', crm_id: 'C-1004' },
      diagnosis: { code: 'synced' },
      profile: { read: false },
    });
  });

  it('a grant without read:users names the scope to grant', async () => {
    api.setGrantedScopes(['read:actions']);
    seed('sms|ada');
    const run = await explain(['sms|ada']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/grant it the scope read:users/);
  });

  it('a client secret Auth0 refuses names the settings to check', async () => {
    const run = await explain(['sms|ada'], {
      ...withAuth0(),
      AUTH0_CLIENT_SECRET: 'not-the-secret',
    });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(
      /refused the M2M application: check AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET/,
    );
  });

  it('a user id the tenant does not have', async () => {
    const run = await explain(['sms|nobody']);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^The Auth0 tenant has no user sms\|nobody/);
  });
});

describe('npm run explain, bounded', () => {
  let server: Server;
  let url: string;
  let reply: (res: import('node:http').ServerResponse) => void;
  beforeAll(async () => {
    server = createServer((_req, res) => reply(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/sync`;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  // A secret of its own per test: a GET signed with the same one in the same second would wait
  // for the next (tools/explain/request-signature.ts), and this server keeps no ledger.
  let tests = 0;
  const env = () => ({
    SYNC_API_URL: url,
    SYNC_SIGNING_SECRET: `${TEST_SECRETS.signing}-${++tests}`,
  });

  it('does not follow a redirect', async () => {
    reply = (res) => res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
    const run = await runExplain(['sms|ada'], env());
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(
      /answered a redirect \(HTTP 302\), which is not followed: set SYNC_API_URL/,
    );
  });

  it('gives up on an answer that does not come in time', async () => {
    reply = () => undefined;
    const run = await runExplain(['sms|ada'], env(), { timeoutMs: 100 });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/no answer from .*\/v1\/users\/sms%7Cada within 100 ms/);
  });

  it('stops reading an answer past its cap', async () => {
    reply = (res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(`"${'x'.repeat(100_000)}"`);
    const run = await runExplain(['sms|ada'], env());
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/is over 65536 bytes; not read/);
  });

  it('names the setting when the signature is refused', async () => {
    reply = (res) =>
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"error":{"code":"invalid_signature","message":"bad"}}');
    const run = await runExplain(['sms|ada'], env());
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/401 invalid_signature: SYNC_SIGNING_SECRET must be/);
  });
});

/** `npm run explain -- …` as a person runs it: tsx, a shell without the tests' settings. */
function runCli(args: string[], env: Record<string, string>) {
  const { PORT, SYNC_API_URL, SYNC_SIGNING_SECRET, AUTH0_DOMAIN, ...shell } = process.env;
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'tools/explain.ts', ...args],
      { env: { ...shell, ...env } },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

describe('npm run explain, from a shell', () => {
  it('explains against npm start out of the box, as text and --json, and never prints a phone number', async () => {
    await login('sms|ada-cli', ADA_LOVELACE.phone);
    const env = { PORT: port(), LOCAL_DATA_DIR: dataDir };
    const text = await runCli(['sms|ada-cli'], env);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      /^sms\|ada-cli is linked to CRM record C-1001 .*; nothing to do\.\n/,
    );
    expect(text.stdout).toMatch(/profile: +not read \(set AUTH0_DOMAIN/);

    const resync = await runCli(
      ['sms|ada-cli', '--resync', '--phone', typedPhone(ADA_LOVELACE.phone), '--json'],
      env,
    );
    expect(resync.code).toBe(0);
    const out = JSON.parse(resync.stdout);
    expect(out.diagnosis.code).toBe('synced');
    expect(out.service).toMatchObject({ status: 'synced', crm_id: 'C-1001', match_key: 'phone' });
    expectNoPii(text.stdout + text.stderr + resync.stdout + resync.stderr);
  });

  it('says nothing listens, exit 1; a usage error is exit 2', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const free = String((closed.address() as { port: number }).port);
    await new Promise((resolve) => closed.close(resolve));

    const down = await runCli(['sms|ada'], {
      PORT: free,
      SYNC_SIGNING_SECRET: TEST_SECRETS.signing,
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(
      `explain: no answer from http://127.0.0.1:${free}/v1/users/sms%7Cada (ECONNREFUSED): is npm start running, on this PORT? (or set SYNC_API_URL)\n`,
    );
    const usage = await runCli([ADA_LOVELACE.email], { PORT: free });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^the first argument must be an Auth0 user id/);
    expectNoPii(down.stderr + usage.stderr);
  });
});
