import { describe, expect, it } from 'vitest';
import { STATE_NAMESPACE, syncedUserState } from '#test/support/user-sync-state.ts';
import { parseArgs } from '#tools/explain/args.ts';
import { type DiagnosisInput, diagnose } from '#tools/explain/diagnosis.ts';
import { type ProfileFacts, profileFacts } from '#tools/explain/profile-facts.ts';
import { userStateUrl } from '#tools/explain/settings.ts';
import { readUserSyncState, type UserSyncState } from '#tools/explain/user-state.ts';

/** The diagnosis as a pure function: every story the tool tells, from hand-made facts. */

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const NS = STATE_NAMESPACE;
const ID = 'sms|6512abc';

const synced = (overrides: Partial<UserSyncState> = {}) => syncedUserState(ID, overrides);

const linked = {
  state: 'present',
  id: 'C-1001',
  synced_at: '2026-12-01T09:00:00.000Z',
  fresh_until: '2026-12-02T00:00:00.000Z',
  claim_names: [`${NS}crm_id`, `${NS}name`],
} as const;

function facts(overrides: Partial<ProfileFacts> = {}): ProfileFacts {
  return {
    phone_number: 'present',
    email: 'absent',
    match_keys: ['phone'],
    match_key: 'phone',
    crm: linked,
    ...overrides,
  };
}

function run(input: Partial<DiagnosisInput>) {
  return diagnose({
    userId: ID,
    service: { kind: 'known', state: synced() },
    profile: facts(),
    now: NOW,
    ...input,
  });
}

describe('the diagnosis', () => {
  it('all good: names the CRM record and the claims logins get, nothing to do', () => {
    const d = run({});
    expect(d.code).toBe('synced');
    expect(d.sentence).toBe(
      'sms|6512abc is linked to CRM record C-1001 (synced 2026-12-01T09:00:00.000Z, fresh until 2026-12-02T00:00:00.000Z), and logins get the claims crm_id, name; nothing to do.',
    );
  });

  it('all good from the service alone when the profile was not read', () => {
    expect(run({ profile: 'not_read' }).code).toBe('synced');
  });

  it('an expired stamp: the next login asks the CRM again', () => {
    const d = run({
      service: { kind: 'known', state: synced({ fresh: false, next_login: 'asks_crm' }) },
    });
    expect(d.code).toBe('synced');
    expect(d.sentence).toMatch(/the next login asks the CRM again; nothing to do\.$/);
  });

  it('no phone number and no email: the Action skips the lookup; add one to the profile', () => {
    const d = run({
      profile: facts({
        phone_number: 'absent',
        email: 'absent',
        match_key: null,
        crm: { state: 'absent' },
      }),
    });
    expect(d.code).toBe('no_match_key');
    expect(d.sentence).toBe(
      'The Action skips the CRM lookup for sms|6512abc because the profile has neither a phone number nor an email, so logins get no CRM claims: add a phone number to the profile (CRM_MATCH_KEYS=phone), and the next login looks them up.',
    );
  });

  it('no match key but an old link on the profile: logins keep its claims', () => {
    const d = run({
      profile: facts({ phone_number: 'absent', email: 'absent', match_key: null }),
      service: { kind: 'unknown' },
    });
    expect(d.code).toBe('no_match_key');
    expect(d.sentence).toMatch(/logins keep the claims of CRM record C-1001 stored on the profile/);
  });

  it('an email where the deployment matches on phone numbers names CRM_MATCH_KEYS', () => {
    const d = run({
      profile: facts({ phone_number: 'absent', email: 'present', match_key: null }),
    });
    expect(d.code).toBe('no_match_key');
    expect(d.sentence).toMatch(
      /has an email but no phone number, the keys it matches on \(CRM_MATCH_KEYS=phone\)/,
    );
  });

  it('a phone number that cannot be read: the sync API refuses it, correct it', () => {
    const d = run({ profile: facts({ phone_number: 'unreadable', match_key: null }) });
    expect(d.code).toBe('no_match_key');
    expect(d.sentence).toMatch(/400 invalid_phone_number.*correct it in international format/);
  });

  it('never looked up, with a match key: resync now (the id quoted for the shell)', () => {
    const d = run({ service: { kind: 'unknown' }, profile: facts({ crm: { state: 'absent' } }) });
    expect(d.code).toBe('never_looked_up');
    expect(d.sentence).toBe(
      "The sync service has never looked sms|6512abc up (no login or backfill has asked about them yet), though the profile has a phone number to match on: run `npm run explain -- 'sms|6512abc' --resync` to look them up now, or wait for their next login.",
    );
  });

  it('never looked up, profile not read: says how to resync without the profile', () => {
    const d = run({ service: { kind: 'unknown' }, profile: 'not_read' });
    expect(d.code).toBe('never_looked_up');
    expect(d.sentence).toMatch(
      /AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET set \(or with --phone or --email\)/,
    );
  });

  it('a stamp gone (retention) while the profile keeps its copy: logins use the copy', () => {
    const d = run({ service: { kind: 'unknown' } });
    expect(d.code).toBe('never_looked_up');
    expect(d.sentence).toMatch(
      /^The sync service holds nothing for sms\|6512abc any more \(a stamp is deleted STAMP_RETENTION_DAYS after it stops being fresh\), so logins get the profile's app_metadata.crm \(CRM record C-1001, /,
    );
  });

  it('not in the CRM: asked at synced_at, asked again after fresh_until', () => {
    const state = synced({
      status: 'not_found',
      crm_id: null,
      claims: [],
      fresh_until: '2026-12-01T10:00:00.000Z',
      fresh: true,
    });
    const d = run({
      service: { kind: 'known', state },
      profile: facts({ crm: { state: 'absent' } }),
    });
    expect(d.code).toBe('not_in_crm');
    expect(d.sentence).toBe(
      "The CRM had no record for sms|6512abc's phone number when asked at 2026-12-01T09:00:00.000Z, so logins get no CRM claims until it is asked again after 2026-12-01T10:00:00.000Z: add or correct the contact in the CRM, then run `npm run explain -- 'sms|6512abc' --resync`.",
    );
  });

  it('two CRM records for the key: none linked, merge the duplicates', () => {
    const state = synced({
      status: 'not_found',
      crm_id: null,
      claims: [],
      fresh_until: '2026-12-01T10:00:00.000Z',
      fresh: true,
      ambiguous_matches: 2,
    });
    const d = run({
      service: { kind: 'known', state },
      profile: facts({ crm: { state: 'absent' } }),
    });
    expect(d.code).toBe('ambiguous_match');
    expect(d.sentence).toBe(
      "The CRM had 2 records for sms|6512abc's phone number when asked at 2026-12-01T09:00:00.000Z, so none was linked (the wrong one would put another person's data in the token) and logins get no CRM claims until it is asked again after 2026-12-01T10:00:00.000Z: merge or correct the duplicate contacts in the CRM, then run `npm run explain -- 'sms|6512abc' --resync`.",
    );
  });

  const failedState = synced({
    status: 'failed',
    fresh: false,
    crm_id: null,
    synced_at: null,
    fresh_until: null,
    claims: [],
    next_login: 'asks_crm',
    last_failure: { code: 'timeout', at: '2026-12-01T08:59:00.000Z' },
  });
  const failing = (profile: DiagnosisInput['profile']) =>
    run({ service: { kind: 'known', state: failedState }, profile });

  it('CRM failing, nothing known and no copy on the profile: no claims, since when and why, what to check', () => {
    const d = failing(facts({ crm: { state: 'absent' } }));
    expect(d.code).toBe('crm_failing');
    expect(d.sentence).toMatch(
      /^The CRM has given no answer for sms\|6512abc since its lookup failed at 2026-12-01T08:59:00.000Z \(timeout\) and the sync service holds no earlier answer .*, and the profile holds no app_metadata.crm copy, so logins get no CRM claims \(the sync API answers 503 crm_unavailable; with FAIL_MODE=closed they are denied\).*CRM_TIMEOUT_MS/,
    );
  });

  it('CRM failing after retention deleted the stamp, the profile keeping its copy: the Action fails open with the copy, closed denies', () => {
    const stale = { ...linked, fresh_until: '2026-11-20T00:00:00.000Z' };
    const d = failing(facts({ crm: stale }));
    expect(d.code).toBe('crm_failing');
    expect(d.sentence).toMatch(/its stamp was deleted after STAMP_RETENTION_DAYS/);
    expect(d.sentence).toMatch(
      /each login asks the CRM again and the sync API answers 503 crm_unavailable: with FAIL_MODE=open \(the default\) the Action gives the claims of the profile's app_metadata.crm copy \(CRM record C-1001, synced 2026-12-01T09:00:00.000Z: the claims crm_id, name\); with closed, the login is denied: check/,
    );
    expect(d.sentence).not.toMatch(/logins get no CRM claims/);
  });

  it('CRM failing while the copy on the profile is fresh: logins use it without asking until it is not', () => {
    const d = failing(facts());
    expect(d.code).toBe('crm_failing');
    expect(d.sentence).toMatch(
      /logins get the claims of the profile's app_metadata.crm copy \(CRM record C-1001, .*\) without asking while it is fresh, until 2026-12-02T00:00:00.000Z; after that the sync API answers 503 crm_unavailable: with FAIL_MODE=open \(the default\) the Action still gives the copy's claims; with closed, the login is denied/,
    );
  });

  it('CRM failing, profile not read: says what the copy would change, and how to read it', () => {
    const d = failing('not_read');
    expect(d.code).toBe('crm_failing');
    expect(d.sentence).toMatch(
      /with FAIL_MODE=open \(the default\) logins get the claims of the profile's app_metadata.crm copy if it holds one \(not read here: set AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET\), else no CRM claims; with closed, they are denied/,
    );
  });

  it("a forced lookup that failed after today's stamp: logins are answered from the stamp, the failure named", () => {
    const state = synced({ last_failure: { code: 'timeout', at: '2026-12-01T11:00:00.000Z' } });
    const d = run({ service: { kind: 'known', state } });
    expect(d.code).toBe('recent_lookup_failed');
    expect(d.sentence).toBe(
      "Logins for sms|6512abc are answered from today's stamp (CRM record C-1001, synced 2026-12-01T09:00:00.000Z, fresh until 2026-12-02T00:00:00.000Z) and get the claims crm_id, name, and a recent (forced) lookup failed at 2026-12-01T11:00:00.000Z with timeout: nothing to do for the user today; check the CRM's response time against the service's CRM_TIMEOUT_MS before 2026-12-02T00:00:00.000Z, when logins ask the CRM again.",
    );
    expect(d.sentence).not.toMatch(/last known|next login asks again/);
  });

  it("a forced lookup that failed after today's not-found stamp: no claims from the stamp, the failure named", () => {
    const state = synced({
      status: 'not_found',
      crm_id: null,
      claims: [],
      last_failure: { code: 'http_status', at: '2026-12-01T11:00:00.000Z' },
    });
    const d = run({
      service: { kind: 'known', state },
      profile: facts({ crm: { state: 'absent' } }),
    });
    expect(d.code).toBe('recent_lookup_failed');
    expect(d.sentence).toMatch(
      /answered from today's stamp \(no CRM record for their phone number, asked at 2026-12-01T09:00:00.000Z, fresh until .*\) and get no CRM claims, and a recent \(forced\) lookup failed at 2026-12-01T11:00:00.000Z with http_status/,
    );
  });

  it('CRM failing with last-known data: stale, logins get what was known', () => {
    const state = synced({
      status: 'stale',
      fresh: false,
      next_login: 'asks_crm',
      last_failure: { code: 'http_status', at: '2026-12-01T11:00:00.000Z' },
    });
    const d = run({ service: { kind: 'known', state } });
    expect(d.code).toBe('crm_failing_stale');
    expect(d.sentence).toMatch(
      /^Logins for sms\|6512abc get the last known CRM data \(CRM record C-1001, synced 2026-12-01T09:00:00.000Z\) because the CRM lookup failed at 2026-12-01T11:00:00.000Z \(http_status\)/,
    );
  });

  it('stamp fresh, profile without app_metadata.crm: the next login or backfill writes it', () => {
    const d = run({ profile: facts({ crm: { state: 'absent' } }) });
    expect(d.code).toBe('profile_outdated');
    expect(d.sentence).toBe(
      'The sync service holds CRM record C-1001 for sms|6512abc (synced 2026-12-01T09:00:00.000Z) but the profile has no app_metadata.crm yet; the next login that asks the sync API writes it (or the backfill does), so there is nothing to do.',
    );
  });

  it('profile naming another record: logins keep its claims while it is fresh', () => {
    const d = run({ profile: facts({ crm: { ...linked, id: 'C-0999' } }) });
    expect(d.code).toBe('profile_outdated');
    expect(d.sentence).toMatch(
      /names CRM record C-0999 while the sync service holds CRM record C-1001 .* logins keep the profile's claims until 2026-12-02T00:00:00.000Z; the next login that asks the sync API writes it/,
    );
  });

  it('profile with the same record but other claims (the mapping changed) is outdated too', () => {
    const crm = { ...linked, claim_names: [`${NS}crm_id`, `${NS}tier`] };
    const d = run({ profile: facts({ crm }) });
    expect(d.code).toBe('profile_outdated');
    expect(d.sentence).toMatch(
      /CRM record C-1001 with other claims \(crm_id, tier; the service gives crm_id, name\)/,
    );
  });

  it('the same claim names in another order are the same link', () => {
    const crm = { ...linked, claim_names: [`${NS}name`, `${NS}crm_id`] };
    expect(run({ profile: facts({ crm }) }).code).toBe('synced');
  });

  it('a contact gone from the CRM still linked on the profile: outdated, not merely not found', () => {
    const state = synced({ status: 'not_found', crm_id: null, claims: [] });
    expect(run({ service: { kind: 'known', state } }).code).toBe('profile_outdated');
  });

  it('a user the tenant does not have', () => {
    expect(run({ profile: 'no_such_user' }).code).toBe('unknown_user');
  });
});

describe('the profile facts', () => {
  const policy = { matchKeys: ['phone'] as const, defaultPhoneCountry: undefined };

  it('say present or absent, never the value', () => {
    const f = profileFacts(
      { user_id: ID, phone_number: '+15550100001', email: 'ada@example.com' },
      policy,
    );
    expect(f).toMatchObject({ phone_number: 'present', email: 'present', match_key: 'phone' });
    expect(JSON.stringify(f)).not.toMatch(/5550100001|ada@/);
  });

  it('a phone number that cannot be read leaves no match key', () => {
    const f = profileFacts({ user_id: ID, phone_number: 'call me' }, policy);
    expect(f).toMatchObject({ phone_number: 'unreadable', match_key: null });
  });

  it('read app_metadata.crm as the Action does: its claims are namespace + field', () => {
    const crm = {
      id: 'C-1',
      synced_at: 'a',
      fresh_until: 'b',
      namespace: NS,
      fields: { tier: 'gold' },
    };
    expect(profileFacts({ user_id: ID, app_metadata: { crm } }, policy).crm).toEqual({
      state: 'present',
      id: 'C-1',
      synced_at: 'a',
      fresh_until: 'b',
      claim_names: [`${NS}tier`],
    });
    expect(profileFacts({ user_id: ID, app_metadata: { crm: 'x' } }, policy).crm.state).toBe(
      'unreadable',
    );
  });
});

describe('the command line and the contract', () => {
  it('refuses a phone number given as the user id, without echoing it', () => {
    expect(() => parseArgs(['+15550100001'])).toThrow(/must be an Auth0 user id/);
    try {
      parseArgs(['+15550100001']);
    } catch (error) {
      expect((error as Error).message).not.toContain('5550100001');
    }
  });

  it('--phone only with --resync; unknown flags are refused', () => {
    expect(() => parseArgs([ID, '--phone', '+15550100001'])).toThrow(/go with --resync/);
    expect(() => parseArgs([ID, '--force'])).toThrow(/unknown option --force/);
    expect(parseArgs([ID, '--resync', '--phone=+15550100001', '--json'])).toEqual({
      userId: ID,
      resync: true,
      json: true,
      phone: '+15550100001',
    });
  });

  it('derives GET /v1/users/<percent-encoded id> from the sync URL', () => {
    expect(userStateUrl('https://api.acme.test/prod/v1/sync', 'sms|6512abc')).toBe(
      'https://api.acme.test/prod/v1/users/sms%7C6512abc',
    );
  });

  it('refuses an answer that is not the contract', () => {
    expect(readUserSyncState(synced())).toEqual(synced());
    expect(readUserSyncState({ ...synced(), status: 'cached' })).toBeUndefined();
    expect(readUserSyncState({ ...synced(), last_failure: { code: 1 } })).toBeUndefined();
  });

  it('reads claims as names only: claims with their values (the contract before review) are refused', () => {
    const withValues = { ...synced(), claims: { [`${NS}name`]: 'Ada Lovelace' } };
    expect(readUserSyncState(withValues)).toBeUndefined();
    expect(readUserSyncState({ ...synced(), claims: [`${NS}name`, 7] })).toBeUndefined();
  });

  it('keeps only the contract fields of an answer, so nothing else reaches --json', () => {
    const state = readUserSyncState({ ...synced(), fields: { name: 'Ada Lovelace' } });
    expect(JSON.stringify(state)).not.toContain('Ada Lovelace');
    expect(state).toEqual(synced());
  });
});
