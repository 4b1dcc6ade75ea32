import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubSpotCrm } from '#shared/adapters/hubspot-crm.ts';
import { buildClaimMapping } from '#shared/domain/claims.ts';
import { AmbiguousMatch } from '#shared/domain/ports.ts';
import { ADA_LOVELACE, GRACE_HOPPER, KATHERINE_JOHNSON } from '#stand-ins/demo-data.ts';
import { DEMO_HUBSPOT_TOKEN, type HubSpotApi, startHubSpotApi } from '#stand-ins/hubspot/server.ts';
import { crmFailure } from '#test/support/rejection.ts';

/**
 * The HubSpot adapter against the HubSpot stand-in (stand-ins/hubspot/, built from HubSpot's
 * "Search the CRM" guide and its contacts spec) over a socket: what it asks, how it reads
 * numbers typed every which way, and how it takes HubSpot's refusals.
 */
let now = Date.parse('2026-12-01T09:00:00.000Z');
let api: HubSpotApi;
let refused: number;
let token: string;

const mapping = buildClaimMapping({
  namespace: 'https://crm.example.com/',
  idPath: 'hs_object_id',
  fields: {
    crm_id: 'hs_object_id',
    first_name: 'firstname',
    last_name: 'lastname',
    stage: 'lifecyclestage',
  },
  maxValueLength: 100,
});
const phone = (e164: string) => ({ kind: 'phone', e164 }) as const;
const crm = (options: { homeCountry?: 'US' } = {}) =>
  new HubSpotCrm({
    ...options,
    url: api.url,
    token: async () => token,
    onUnauthorized: () => refused++,
    timeoutMs: 2_000,
    maxResponseBytes: 1024 * 1024,
    mapping,
    clock: () => now,
  });

beforeEach(async () => {
  now += 60_000;
  api = await startHubSpotApi({ demo: true, clock: () => now });
  token = DEMO_HUBSPOT_TOKEN;
  refused = 0;
});
afterEach(() => api.close());

describe('finding a contact by phone number', () => {
  it('finds +1 555 010 0001 stored as "555-010-0001", asking only for the mapped properties', async () => {
    const record = await crm().find(phone(ADA_LOVELACE.phone));
    expect(record).toMatchObject({ firstname: 'Ada', lastname: 'Lovelace', phone: '555-010-0001' });
    const [search] = api.searches;
    expect(search?.headers.authorization).toBe(`Bearer ${DEMO_HUBSPOT_TOKEN}`);
    // The national digits in the calculated searchable properties, never the typed text.
    expect(search?.body.filterGroups).toEqual([
      {
        filters: [
          {
            propertyName: 'hs_searchable_calculated_phone_number',
            operator: 'EQ',
            value: '5550100001',
          },
        ],
      },
      {
        filters: [
          {
            propertyName: 'hs_searchable_calculated_mobile_number',
            operator: 'EQ',
            value: '5550100001',
          },
        ],
      },
      { filters: [{ propertyName: 'phone', operator: 'EQ', value: '+15550100001' }] },
      { filters: [{ propertyName: 'mobilephone', operator: 'EQ', value: '+15550100001' }] },
    ]);
    expect([...((search?.body.properties ?? []) as string[])].sort()).toEqual(
      ['firstname', 'hs_object_id', 'lastname', 'lifecyclestage', 'mobilephone', 'phone'].sort(),
    );
    // What was never asked for never arrives: the notes stay in HubSpot.
    expect(record).not.toHaveProperty('notes_last_contacted');
  });

  it.each([
    ['(555) 010-0002', GRACE_HOPPER.phone],
    ['+1 555 010 0003', '+15550100003'],
    ['+44 7700 900123', KATHERINE_JOHNSON.phone],
  ])('finds a number typed %s', async (typed, e164) => {
    const record = await crm().find(phone(e164));
    expect((record as Record<string, unknown>)?.phone).toBe(typed);
  });

  it('finds a mobile number, and not the same digits in another country', async () => {
    // 207 946 0958 is a Maine number in the US and a London one in the UK: HubSpot's searchable
    // digits are the same for both.
    api.contacts.create({ firstname: 'London', phone: '+44 20 7946 0958' });
    expect(await crm().find(phone('+12079460958'))).toBeNull();
    api.contacts.create({ firstname: 'Maine', mobilephone: '207.946.0958' });
    expect(await crm().find(phone('+12079460958'))).toMatchObject({ firstname: 'Maine' });
    // Typed without a country code, Maine's number is read in the country asked for, so the UK
    // lookup cannot tell the two apart; with the CRM's home country set it can.
    expect(await crm().find(phone('+442079460958'))).toEqual(new AmbiguousMatch(2));
    expect(await crm({ homeCountry: 'US' }).find(phone('+442079460958'))).toMatchObject({
      firstname: 'London',
    });
  });

  it('reads the next page when the first holds only other countries', async () => {
    for (let i = 0; i < 100; i++)
      api.contacts.create({ firstname: `London ${i}`, phone: '+44 20 7946 0958' });
    api.contacts.create({ firstname: 'Maine', phone: '(207) 946-0958' });
    expect(await crm().find(phone('+12079460958'))).toMatchObject({ firstname: 'Maine' });
    expect(api.searches.map((s) => [s.body.after, s.body.limit])).toEqual([
      [undefined, 100],
      ['100', 100],
    ]);
  });

  it('stops after two pages: more candidates than that link nobody', async () => {
    for (let i = 0; i < 200; i++)
      api.contacts.create({ firstname: `London ${i}`, phone: '+44 20 7946 0958' });
    api.contacts.create({ firstname: 'Maine', phone: '(207) 946-0958' });
    const answer = await crm().find(phone('+12079460958'));
    expect(answer).toBeInstanceOf(AmbiguousMatch);
    expect(api.searches).toHaveLength(2);
  });

  it('two contacts with one number are an ambiguous match, not a pick', async () => {
    api.contacts.create({
      firstname: 'Ada',
      lastname: 'Duplicate',
      mobilephone: '+1 (555) 010-0001',
    });
    const answer = await crm().find(phone(ADA_LOVELACE.phone));
    expect(answer).toEqual(new AmbiguousMatch(2));
  });

  it('a contact created a moment ago is not yet searchable, then is', async () => {
    api.contacts.indexLagMs = 5_000;
    api.contacts.create({ firstname: 'New', phone: '555 010 0777' });
    expect(await crm().find(phone('+15550100777'))).toBeNull();
    now += 5_000;
    expect(await crm().find(phone('+15550100777'))).toMatchObject({ firstname: 'New' });
  });

  it('a mapped property the contact has no value for is null, so it yields no claim', async () => {
    api.contacts.create({ firstname: 'Solo', phone: '555-010-0888' });
    const record = await crm().find(phone('+15550100888'));
    expect(record).toMatchObject({ firstname: 'Solo', lastname: null, lifecyclestage: null });
  });
});

describe('finding a contact by email', () => {
  it('asks for an EQ on email and finds it whatever its case', async () => {
    api.contacts.create({ firstname: 'Mixed', email: 'Mixed.Case@Example.com' });
    const record = await crm().find({ kind: 'email', email: 'mixed.case@example.com' });
    expect(record).toMatchObject({ firstname: 'Mixed' });
    expect(api.searches[0]?.body.filterGroups).toEqual([
      { filters: [{ propertyName: 'email', operator: 'EQ', value: 'mixed.case@example.com' }] },
    ]);
  });
});

describe("HubSpot's refusals", () => {
  it('a revoked token is an auth failure and drops the cached token; the rotated one works', async () => {
    api.revoke(DEMO_HUBSPOT_TOKEN);
    const failure = await crmFailure(crm().find(phone(ADA_LOVELACE.phone)));
    expect([failure.reason, failure.httpStatus]).toEqual(['auth', 401]);
    expect(refused).toBe(1);
    token = 'pat-na1-rotated';
    api.grant(token);
    expect(await crm().find(phone(ADA_LOVELACE.phone))).toMatchObject({ firstname: 'Ada' });
  });

  it('a token without crm.objects.contacts.read is refused 403', async () => {
    token = 'pat-na1-no-scope';
    api.grant(token, ['crm.objects.companies.read']);
    const failure = await crmFailure(crm().find(phone(ADA_LOVELACE.phone)));
    expect([failure.reason, failure.httpStatus]).toEqual(['auth', 403]);
  });

  it("the search API's limit (5 a second) is a 429 without headers: back off for a second", async () => {
    const lookups = Array.from({ length: 6 }, () => crm().find(phone(ADA_LOVELACE.phone)));
    const settled = await Promise.allSettled(lookups);
    const limited = settled.filter((s) => s.status === 'rejected');
    expect(limited).toHaveLength(1);
    expect((limited[0] as PromiseRejectedResult).reason).toMatchObject({
      reason: 'rate_limited',
      httpStatus: 429,
      retryAfterMs: 1_000,
    });
    now += 1_000;
    expect(await crm().find(phone(ADA_LOVELACE.phone))).toMatchObject({ firstname: 'Ada' });
  });

  it('a 429 with Retry-After waits as long as asked; a daily limit longer than a second', async () => {
    api.failNext(
      { status: 429, headers: { 'retry-after': '7' }, body: { errorType: 'RATE_LIMIT' } },
      { status: 429, body: { status: 'error', errorType: 'RATE_LIMIT', policyName: 'DAILY' } },
    );
    expect((await crmFailure(crm().find(phone(ADA_LOVELACE.phone)))).retryAfterMs).toBe(7_000);
    expect((await crmFailure(crm().find(phone(ADA_LOVELACE.phone)))).retryAfterMs).toBe(
      15 * 60_000,
    );
  });

  it('an answer that is not a search result is an invalid response', async () => {
    api.failNext({ status: 200, body: { results: [{ id: 7 }] } });
    expect((await crmFailure(crm().find(phone(ADA_LOVELACE.phone)))).reason).toBe(
      'invalid_response',
    );
  });
});

describe('after review', () => {
  it('more results than the page asked for is no answer (and costs no parsing)', async () => {
    const contact = { id: '9', properties: { phone: '555-010-0001' } };
    api.failNext({ status: 200, body: { total: 101, results: Array(101).fill(contact) } });
    expect((await crmFailure(crm().find(phone(ADA_LOVELACE.phone)))).reason).toBe(
      'invalid_response',
    );
  });

  it('a contact that comes on two pages (an offset moved under us) is one contact', async () => {
    const contact = { id: '9', properties: { firstname: 'Once', phone: '555-010-0001' } };
    api.failNext(
      { status: 200, body: { total: 2, results: [contact], paging: { next: { after: '1' } } } },
      { status: 200, body: { total: 2, results: [contact] } },
    );
    expect(await crm().find(phone(ADA_LOVELACE.phone))).toMatchObject({ firstname: 'Once' });
  });

  it("a search HubSpot refuses (400 VALIDATION_ERROR) is query_refused: the configuration's", async () => {
    api.failNext({ status: 400, body: { status: 'error', category: 'VALIDATION_ERROR' } });
    const failure = await crmFailure(crm().find(phone(ADA_LOVELACE.phone)));
    expect([failure.reason, failure.httpStatus]).toEqual(['query_refused', 400]);
  });

  it('a numeric paging cursor is followed, and a next page without one is no last page', async () => {
    const twin = (id: string) => ({ id, properties: { firstname: id, phone: '555-010-0001' } });
    api.failNext(
      { status: 200, body: { results: [twin('A')], paging: { next: { after: 1 } } } },
      { status: 200, body: { results: [twin('B')] } },
    );
    expect(await crm().find(phone(ADA_LOVELACE.phone))).toEqual(new AmbiguousMatch(2));
    expect(api.searches.map((s) => s.body.after)).toEqual([undefined, '1']);
    api.failNext({ status: 200, body: { results: [twin('A')], paging: { next: {} } } });
    expect((await crmFailure(crm().find(phone(ADA_LOVELACE.phone)))).reason).toBe(
      'invalid_response',
    );
  });

  it("an email search's candidates are read back: another address is nobody", async () => {
    api.failNext({
      status: 200,
      body: {
        results: [{ id: '9', properties: { firstname: 'Other', email: 'other@example.com' } }],
      },
    });
    expect(await crm().find({ kind: 'email', email: 'ada@example.com' })).toBeNull();
  });
});
