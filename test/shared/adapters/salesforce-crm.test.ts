import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrmCircuitBreaker } from '#shared/adapters/crm-circuit-breaker.ts';
import { SalesforceCrm, soqlString } from '#shared/adapters/salesforce-crm.ts';
import { SalesforceToken } from '#shared/adapters/salesforce-token.ts';
import { buildClaimMapping } from '#shared/domain/claims.ts';
import { AmbiguousMatch } from '#shared/domain/ports.ts';
import { ADA_LOVELACE, GRACE_HOPPER, KATHERINE_JOHNSON } from '#stand-ins/demo-data.ts';
import {
  DEMO_SALESFORCE_APP,
  type SalesforceApi,
  startSalesforceApi,
} from '#stand-ins/salesforce/server.ts';
import { crmFailure } from '#test/support/rejection.ts';

/**
 * The Salesforce adapter against the Salesforce stand-in (stand-ins/salesforce/: the OAuth
 * token endpoint and the REST query resource, SOQL parsed as the language is written) over a
 * socket: the client-credentials token, the query it sends, and the org's refusals.
 */
let now = Date.parse('2026-12-01T09:00:00.000Z');
let api: SalesforceApi;
let credentialsRefused: number;
let credentials: { client_id: string; client_secret: string };

const mapping = buildClaimMapping({
  namespace: 'https://crm.example.com/',
  idPath: 'Id',
  fields: { crm_id: 'Id', name: 'Name', tier: 'Loyalty_Tier__c', company: 'Account.Name' },
  maxValueLength: 100,
});
const phone = (e164: string) => ({ kind: 'phone', e164 }) as const;

function adapter(
  options: {
    sessionStore?: SalesforceToken;
    homeCountry?: 'US';
    mapping?: typeof mapping;
    url?: string;
  } = {},
) {
  const token =
    options.sessionStore ??
    new SalesforceToken({
      url: options.url ?? api.url,
      credentials: async () => credentials,
      onRefused: () => credentialsRefused++,
      timeoutMs: 2_000,
      maxResponseBytes: 64 * 1024,
    });
  return new SalesforceCrm({
    url: options.url ?? api.url,
    token,
    homeCountry: options.homeCountry,
    object: 'Contact',
    phoneFields: ['Phone', 'MobilePhone'],
    apiVersion: '66.0',
    mapping: options.mapping ?? mapping,
    timeoutMs: 2_000,
    maxResponseBytes: 1024 * 1024,
    clock: () => now,
  });
}

beforeEach(async () => {
  now += 60_000;
  api = await startSalesforceApi({ demo: true, clock: () => now });
  credentials = { ...DEMO_SALESFORCE_APP };
  credentialsRefused = 0;
});
afterEach(() => api.close());

describe('finding a Contact by phone number', () => {
  it('finds +1 555 010 0001 stored as "(555) 010-0001", selecting only the mapped fields', async () => {
    const record = await adapter().find(phone(ADA_LOVELACE.phone));
    expect(record).toMatchObject({
      Id: expect.stringMatching(/^003/),
      Name: 'Ada Lovelace',
      Loyalty_Tier__c: 'gold',
      Account: { Name: 'Analytical Engines Ltd' },
    });
    const query = api.requests.find((r) => r.soql)?.soql ?? '';
    // The phone fields too: each record's number is read back in the number's country.
    expect(query).toMatch(
      /^SELECT Id, Name, Loyalty_Tier__c, Account\.Name, Phone, MobilePhone FROM Contact WHERE Phone IN \(/,
    );
    expect(query).toContain("'(555) 010-0001'");
    expect(query).toContain("'555-010-0001'");
    expect(query).toMatch(/ OR MobilePhone IN \(.*\) LIMIT 10$/);
    // Only the mapped fields are handed on: the phone, the email and the rest stay behind.
    expect(Object.keys(record ?? {}).sort()).toEqual(['Account', 'Id', 'Loyalty_Tier__c', 'Name']);
  });

  it.each([
    ['555-010-0002', GRACE_HOPPER.phone],
    ['+1 555 010 0003', '+15550100003'],
    ['+447700900123', KATHERINE_JOHNSON.phone],
  ])('finds a number stored as %s', async (_typed, e164) => {
    expect(await adapter().find(phone(e164))).not.toBeNull();
  });

  it('finds a mobile number in any common US form, and a missing field yields null', async () => {
    for (const [i, typed] of [
      '555.010.0700',
      '1-555-010-0701',
      '+1 (555) 010-0702',
      '5550100703',
    ].entries()) {
      api.org.addContact({ LastName: `Form ${i}`, MobilePhone: typed });
      const record = await adapter().find(phone(`+1555010070${i}`));
      expect(record).toEqual({ Id: expect.any(String), Name: `Form ${i}`, Loyalty_Tier__c: null });
    }
  });

  it('a grouped number outside the NANP is not among the forms tried (the README says what to do)', async () => {
    api.org.addContact({ LastName: 'Grouped', Phone: '+44 20 7946 0958' });
    expect(await adapter().find(phone('+442079460958'))).toBeNull();
    api.org.addContact({ LastName: 'Normalised', Phone: '+442079460959' });
    expect(await adapter().find(phone('+442079460959'))).toMatchObject({ Name: 'Normalised' });
  });

  it('two Contacts with one number are an ambiguous match, not a pick', async () => {
    api.org.addContact({ LastName: 'Duplicate', MobilePhone: '555 010 0001' });
    expect(await adapter().find(phone(ADA_LOVELACE.phone))).toEqual(new AmbiguousMatch(2));
  });
});

describe('finding a Contact by email', () => {
  it("matches case-insensitively, and an apostrophe is a literal (o'brien)", async () => {
    api.org.addContact({ LastName: "O'Brien", Email: "Pat.O'Brien@Example.com" });
    const record = await adapter().find({ kind: 'email', email: "pat.o'brien@example.com" });
    expect(record).toMatchObject({ Name: "O'Brien" });
  });

  it('a value written to break out of its quotes stays one literal: no injection', async () => {
    // Unescaped, this would read "Email = 'x' OR Email != ''": every Contact, so ambiguous.
    const hostile = "x@example.com' OR Email != '";
    expect(await adapter().find({ kind: 'email', email: hostile })).toBeNull();
    expect(
      await adapter().find({ kind: 'email', email: "x@example.com\\' OR Email != \\'" }),
    ).toBeNull();
    expect(soqlString("a'b\\c\n")).toBe("'a\\'b\\\\c\\n'");
  });
});

describe('the client-credentials token', () => {
  it('is asked for once and reused; an expired session gets one new token and one retry', async () => {
    const crm = adapter();
    await crm.find(phone(ADA_LOVELACE.phone));
    await crm.find(phone(GRACE_HOPPER.phone));
    expect(api.tokensIssued()).toBe(1);
    const token = api.requests.find((r) => r.method === 'POST');
    expect(token?.path).toBe('/services/oauth2/token');
    api.expireSessions();
    expect(await crm.find(phone(ADA_LOVELACE.phone))).toMatchObject({ Name: 'Ada Lovelace' });
    expect(api.tokensIssued()).toBe(2);
  });

  it('one token for many logins at once', async () => {
    const crm = adapter();
    await Promise.all(
      [ADA_LOVELACE, GRACE_HOPPER, ADA_LOVELACE].map((c) => crm.find(phone(c.phone))),
    );
    expect(api.tokensIssued()).toBe(1);
  });

  it('a session that ends idle (the org’s timeout) is renewed the same way', async () => {
    await api.close();
    api = await startSalesforceApi({ demo: true, clock: () => now, sessionTimeoutMs: 15 * 60_000 });
    const crm = adapter();
    await crm.find(phone(ADA_LOVELACE.phone));
    now += 16 * 60_000;
    expect(await crm.find(phone(ADA_LOVELACE.phone))).not.toBeNull();
    expect(api.tokensIssued()).toBe(2);
  });

  it('a wrong secret is an auth failure that re-reads the credentials; no run-as user too', async () => {
    credentials = { ...DEMO_SALESFORCE_APP, client_secret: 'rotated-away' };
    const failure = await crmFailure(adapter().find(phone(ADA_LOVELACE.phone)));
    expect([failure.reason, failure.httpStatus]).toEqual(['auth', 400]);
    expect(credentialsRefused).toBe(1);
    await api.close();
    api = await startSalesforceApi({ demo: true, clock: () => now, withoutRunAsUser: true });
    credentials = { ...DEMO_SALESFORCE_APP };
    expect((await crmFailure(adapter().find(phone(ADA_LOVELACE.phone)))).reason).toBe('auth');
  });

  it('a token that stays refused after renewal is an auth failure, not a loop', async () => {
    api.failNext(
      {
        status: 401,
        body: [{ errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' }],
      },
      {
        status: 401,
        body: [{ errorCode: 'INVALID_SESSION_ID', message: 'Session expired or invalid' }],
      },
    );
    const failure = await crmFailure(adapter().find(phone(ADA_LOVELACE.phone)));
    expect([failure.reason, failure.httpStatus]).toEqual(['auth', 401]);
    expect(api.tokensIssued()).toBe(2);
  });
});

describe("the org's refusals", () => {
  it('a mapped field field-level security hides is query_refused (INVALID_FIELD)', async () => {
    api.org.hiddenFields.add('Loyalty_Tier__c');
    const failure = await crmFailure(adapter().find(phone(ADA_LOVELACE.phone)));
    expect([failure.reason, failure.httpStatus]).toEqual(['query_refused', 400]);
  });

  it("the org's daily API allowance spent is back-pressure (403 REQUEST_LIMIT_EXCEEDED)", async () => {
    await api.close();
    api = await startSalesforceApi({ demo: true, clock: () => now, dailyApiLimit: 1 });
    const crm = adapter();
    await crm.find(phone(ADA_LOVELACE.phone));
    const failure = await crmFailure(crm.find(phone(ADA_LOVELACE.phone)));
    expect([failure.reason, failure.httpStatus]).toEqual(['rate_limited', 403]);
  });

  it('a 429 or 503 in front of the org reports its Retry-After, when there is one', async () => {
    api.failNext(
      { status: 429, headers: { 'retry-after': '3' } },
      { status: 429 },
      { status: 503 },
    );
    const crm = adapter();
    const first = await crmFailure(crm.find(phone(ADA_LOVELACE.phone)));
    expect([first.reason, first.retryAfterMs]).toEqual(['rate_limited', 3_000]);
    const second = await crmFailure(crm.find(phone(ADA_LOVELACE.phone)));
    expect([second.reason, second.retryAfterMs]).toEqual(['rate_limited', undefined]);
    expect((await crmFailure(crm.find(phone(ADA_LOVELACE.phone)))).httpStatus).toBe(503);
  });
});

describe('after review', () => {
  it("the national digits of a UK number are not a US contact's number (each record read back)", async () => {
    api.org.addContact({ LastName: 'Maine', Phone: '2079460958' });
    const uk = phone('+442079460958');
    expect(await adapter({ homeCountry: 'US' }).find(uk)).toBeNull();
    api.org.addContact({ LastName: 'London', Phone: '02079460958' });
    expect(await adapter({ homeCountry: 'US' }).find(uk)).toMatchObject({ Name: 'London' });
  });

  it('field names in the mapping match whatever their case, as SOQL matches them', async () => {
    const lower = buildClaimMapping({
      namespace: 'https://crm.example.com/',
      idPath: 'id',
      fields: { crm_id: 'id', name: 'name' },
      maxValueLength: 100,
    });
    expect(await adapter({ mapping: lower }).find(phone(ADA_LOVELACE.phone))).toEqual({
      id: expect.stringMatching(/^003/),
      name: 'Ada Lovelace',
    });
    // Each field selected once, whatever its case: Salesforce refuses a field named twice.
    expect(api.requests.find((r) => r.soql)?.soql).toMatch(
      /^SELECT id, name, Phone, MobilePhone FROM /,
    );
  });

  it('a control character in an email is escaped as \\uXXXX: the query stays well-formed', async () => {
    expect(soqlString('a\u0001b')).toBe("'a\\u0001b'");
    expect(await adapter().find({ kind: 'email', email: 'a\u0001b@example.com' })).toBeNull();
  });

  it('more records than the LIMIT asked for is no answer', async () => {
    const record = { attributes: { type: 'Contact' }, Id: '003x', Phone: '555-010-0001' };
    api.failNext({
      status: 200,
      body: { totalSize: 11, done: true, records: Array(11).fill(record) },
    });
    expect((await crmFailure(adapter().find(phone(ADA_LOVELACE.phone)))).reason).toBe(
      'invalid_response',
    );
  });

  it('a spent daily allowance waits 15 minutes, and opens the circuit for that long', async () => {
    await api.close();
    api = await startSalesforceApi({ demo: true, clock: () => now, dailyApiLimit: 0 });
    const breaker = new CrmCircuitBreaker(
      adapter(),
      { failureThreshold: 5, cooldownMs: 30_000, maxRetryAfterMs: 600_000 },
      () => {},
      () => now,
    );
    expect((await crmFailure(breaker.find(phone(ADA_LOVELACE.phone)))).retryAfterMs).toBe(
      15 * 60_000,
    );
    expect((await crmFailure(breaker.find(phone(ADA_LOVELACE.phone)))).reason).toBe('circuit_open');
  });

  it("a token endpoint that does not answer is the CRM's timeout, not a fault of ours", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const crm = new SalesforceCrm({
        url,
        token: new SalesforceToken({
          url,
          credentials: async () => credentials,
          timeoutMs: 300,
          maxResponseBytes: 1024,
        }),
        object: 'Contact',
        phoneFields: ['Phone'],
        apiVersion: '66.0',
        mapping,
        timeoutMs: 200,
        maxResponseBytes: 1024,
      });
      expect((await crmFailure(crm.find(phone(ADA_LOVELACE.phone)))).reason).toBe('timeout');
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('ten candidates (the LIMIT) with one confirmed is no proof: ambiguous, none linked', async () => {
    const other = (i: number) => ({
      attributes: { type: 'Contact' },
      Id: `003other${i}`,
      Phone: `+44 555 010 000${i}`,
    });
    const records = [
      ...Array.from({ length: 9 }, (_, i) => other(i)),
      { attributes: { type: 'Contact' }, Id: '003ada', Phone: '555-010-0001' },
    ];
    api.failNext({ status: 200, body: { totalSize: 10, done: true, records } });
    expect(await adapter().find(phone(ADA_LOVELACE.phone))).toEqual(new AmbiguousMatch(2));
    api.failNext({ status: 200, body: { totalSize: 9, done: true, records: records.slice(1) } });
    expect(await adapter().find(phone(ADA_LOVELACE.phone))).toMatchObject({ Id: '003ada' });
  });

  it('a refusal of a token already replaced asks for no other', async () => {
    const token = new SalesforceToken({
      url: api.url,
      credentials: async () => credentials,
      timeoutMs: 2_000,
      maxResponseBytes: 64 * 1024,
    });
    const signal = () => AbortSignal.timeout(2_000);
    const first = await token.get(signal());
    token.refused(first);
    const second = await token.get(signal());
    expect(second).not.toBe(first);
    // A login that sent the first token before the renewal hears its 401 late.
    token.refused(first);
    expect(await token.get(signal())).toBe(second);
    expect(api.tokensIssued()).toBe(2);
  });
});
