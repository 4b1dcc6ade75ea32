import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import { STATE_NAMESPACE, syncedUserState } from '#test/support/user-sync-state.ts';
import { diagnose } from '#tools/explain/diagnosis.ts';
import { profileFacts } from '#tools/explain/profile-facts.ts';
import { type Explanation, renderJson, renderText } from '#tools/explain/report.ts';
import { signAnew } from '#tools/explain/request-signature.ts';
import { readExplainSettings } from '#tools/explain/settings.ts';
import { runExplain } from '#tools/explain.ts';

/**
 * What the tool sends and prints, and to whom: no CRM values out, no clear-text requests across
 * a network, no M2M credentials after a redirect, no signature sent twice.
 */

const NS = STATE_NAMESPACE;
const ID = 'sms|6512abc';

const state = syncedUserState(ID);

/** A local HTTP server; `handle` is set by each test. */
async function localServer(handle: () => (req: IncomingMessage, res: ServerResponse) => void) {
  const server: Server = createServer((req, res) => handle()(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const close = () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url, close };
}

describe('what the tool prints', () => {
  it("never a claim's value: a mapped name on the profile shows as its claim name only, in text and --json", () => {
    const crm = {
      id: ADA_LOVELACE.id,
      synced_at: state.synced_at,
      fresh_until: state.fresh_until,
      namespace: NS,
      fields: { crm_id: ADA_LOVELACE.id, name: ADA_LOVELACE.name, tier: ADA_LOVELACE.tier },
    };
    const profile = profileFacts(
      { user_id: ID, phone_number: ADA_LOVELACE.phone, app_metadata: { crm } },
      { matchKeys: ['phone'], defaultPhoneCountry: undefined },
    );
    const service = { kind: 'known', state } as const;
    const e: Explanation = {
      userId: ID,
      diagnosis: diagnose({
        userId: ID,
        service,
        profile,
        now: Date.parse('2026-12-01T12:00:00.000Z'),
      }),
      service,
      profile,
      resync: undefined,
    };
    for (const out of [renderText(e), renderJson(e)]) {
      expect(out).not.toContain(ADA_LOVELACE.name);
      expect(out).not.toContain(ADA_LOVELACE.tier);
    }
    expect(JSON.parse(renderJson(e)).profile.crm.claim_names).toEqual([
      `${NS}crm_id`,
      `${NS}name`,
      `${NS}tier`,
    ]);
  });
});

describe('SYNC_API_URL', () => {
  const settings = (url: string) =>
    readExplainSettings({ SYNC_API_URL: url, SYNC_SIGNING_SECRET: TEST_SECRETS.signing });

  it('refuses plain http to another machine, naming the setting', () => {
    for (const url of ['http://sync.acme.test/v1/sync', 'http://10.0.0.7:3000/v1/sync']) {
      expect(() => settings(url)).toThrow(
        /^Invalid configuration: SYNC_API_URL: must be an https URL \(plain http only to 127.0.0.1, ::1 or localhost\)/,
      );
    }
  });

  it('takes https anywhere, and plain http to this machine', () => {
    for (const url of [
      'https://sync.acme.test/prod/v1/sync',
      'http://127.0.0.1:3000/v1/sync',
      'http://[::1]:3000/v1/sync',
      'http://localhost:3000/v1/sync',
    ]) {
      expect(settings(url).syncUrl).toBe(url);
    }
  });
});

describe('signatures, each sent once', () => {
  it('the same body in the same second waits for the next second; another body need not', async () => {
    let now = Date.parse('2026-12-01T12:00:00.250Z');
    const waits: number[] = [];
    const clock = {
      now: () => now,
      sleep: async (ms: number) => {
        waits.push(ms);
        now += ms;
      },
    };
    const secret = `${TEST_SECRETS.signing}-unit`;
    const first = await signAnew(secret, '', clock);
    const post = await signAnew(secret, '{"user_id":"sms|1"}', clock);
    const second = await signAnew(secret, '', clock);
    expect(first).toMatch(/^t=1796126400,/);
    expect(post).toMatch(/^t=1796126400,/);
    expect(second).toMatch(/^t=1796126401,/);
    expect(waits).toEqual([750]);
  });

  /** A sync API that takes each signature once (docs/sync-api.md), as functions/sync/app.ts. */
  let seen: string[] = [];
  let refuseFirst = false;
  let refuseAll = false;
  let api: Awaited<ReturnType<typeof localServer>>;
  beforeAll(async () => {
    api = await localServer(() => (req, res) => {
      const header = String(req.headers['x-sync-signature']);
      const used = seen.includes(header) || refuseAll || (refuseFirst && seen.length === 0);
      seen.push(header);
      if (used) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: {
              code: 'invalid_signature',
              message: 'this signature was used already; sign each request anew',
            },
          }),
        );
        return;
      }
      const userId = decodeURIComponent(String(req.url).split('/').pop() ?? '');
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ...state, user_id: userId }));
    });
  });
  afterAll(() => api.close());
  afterEach(() => {
    seen = [];
    refuseFirst = false;
    refuseAll = false;
  });
  const env = (secret: string) => ({
    SYNC_API_URL: `${api.url}/v1/sync`,
    SYNC_SIGNING_SECRET: secret,
  });

  it('two explains in one second, of different users, each sign their own GET', async () => {
    // At the start of a second, so that both runs fall in it.
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000)));
    const secret = `${TEST_SECRETS.signing}-two-runs`;
    const first = await runExplain(['sms|one'], env(secret));
    const second = await runExplain(['sms|two'], env(secret));
    expect([first.stderr, second.stderr]).toEqual(['', '']);
    expect([first.exitCode, second.exitCode]).toEqual([0, 0]);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('a GET refused as already used (another run signed the same second) is signed anew and asked once more', async () => {
    refuseFirst = true;
    const run = await runExplain(['sms|one'], env(`${TEST_SECRETS.signing}-retry`));
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(seen).toHaveLength(2);
    expect(seen[1]).not.toBe(seen[0]);
  });

  it('a GET refused as used again when signed anew says so, not that the secret is wrong', async () => {
    refuseAll = true;
    const run = await runExplain(['sms|one'], env(`${TEST_SECRETS.signing}-twice`));
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(
      /401 invalid_signature: the service had taken this signature already/,
    );
    expect(run.stderr).not.toMatch(/SYNC_SIGNING_SECRET must be/);
    expect(new Set(seen).size).toBe(2);
  });
});

describe('the Auth0 profile read', () => {
  let thief: Awaited<ReturnType<typeof localServer>>;
  let tenant: Awaited<ReturnType<typeof localServer>>;
  let stolen: string[];
  beforeAll(async () => {
    stolen = [];
    thief = await localServer(() => (req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        stolen.push(`${req.method} ${req.url} ${body}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    // A tenant domain that answers /oauth/token with a 307: fetch would POST the same body,
    // client_secret included, to the Location (WHATWG Fetch, HTTP-redirect fetch, step 12).
    tenant = await localServer(() => (_req, res) => {
      res.writeHead(307, { location: `${thief.url}/oauth/token` }).end();
    });
  });
  afterAll(async () => {
    await thief.close();
    await tenant.close();
  });

  it('follows no redirect of the token request, so the client secret goes nowhere else', async () => {
    const domain = 'acme.eu.auth0.test';
    const clientSecret = `${TEST_SECRETS.signing}-m2m-client-secret`;
    // The SDK asks https://<domain>/…; here that is the local tenant.
    const auth0Fetch: typeof fetch = (input, init) =>
      fetch(String(input).replace(`https://${domain}`, tenant.url), init);
    const run = await runExplain(
      ['sms|6512abc'],
      {
        SYNC_API_URL: 'http://127.0.0.1:9/v1/sync',
        SYNC_SIGNING_SECRET: TEST_SECRETS.signing,
        AUTH0_DOMAIN: domain,
        AUTH0_CLIENT_ID: 'explain-m2m',
        AUTH0_CLIENT_SECRET: clientSecret,
      },
      { auth0Fetch },
    );
    expect(stolen).toEqual([]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toBe(
      `explain: the Auth0 tenant ${domain} answered a redirect (HTTP 307), which is not followed (it would re-send the M2M credentials): set AUTH0_DOMAIN to the tenant's own domain, such as acme.eu.auth0.com\n`,
    );
    expect(run.stderr).not.toContain(clientSecret);
  });
});
