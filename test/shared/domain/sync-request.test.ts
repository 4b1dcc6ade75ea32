import { describe, expect, it } from 'vitest';
import { profileSyncRequest, readSyncRequest } from '#shared/domain/sync-request.ts';

const phoneOnly = { matchKeys: ['phone'] as const };
const either = { matchKeys: ['phone', 'email'] as const };

describe('reading a sync request', () => {
  it('normalises the phone number and ignores unknown fields', () => {
    expect(
      readSyncRequest({ user_id: 'sms|1', phone_number: '+1 (555) 010-0001', extra: 1 }, phoneOnly),
    ).toEqual({ userId: 'sms|1', matchKey: { kind: 'phone', e164: '+15550100001' }, force: false });
  });

  it('reads national numbers with the configured default country', () => {
    const request = readSyncRequest(
      { user_id: 'sms|1', phone_number: '(555) 010-0001' },
      { ...phoneOnly, defaultPhoneCountry: 'US' },
    );
    expect(request.matchKey).toEqual({ kind: 'phone', e164: '+15550100001' });
  });

  it('falls back to the email when the deployment matches on it too', () => {
    expect(
      readSyncRequest(
        { user_id: 'email|1', email: ' Ada@Example.com ', phone_number: null },
        either,
      ).matchKey,
    ).toEqual({ kind: 'email', email: 'ada@example.com' });
  });

  it('prefers the first configured key present', () => {
    const body = { user_id: 'u', email: 'ada@example.com', phone_number: '+15550100001' };
    expect(readSyncRequest(body, either).matchKey.kind).toBe('phone');
    expect(readSyncRequest(body, { matchKeys: ['email', 'phone'] }).matchKey.kind).toBe('email');
  });

  it.each([
    [null, 'invalid_request'],
    [[], 'invalid_request'],
    [{ phone_number: '+15550100001' }, 'invalid_request'],
    [{ user_id: '', phone_number: '+15550100001' }, 'invalid_request'],
    [{ user_id: 'u', phone_number: 15550100001 }, 'invalid_request'],
    [{ user_id: 'u', phone_number: '+15550100001', force: 1 }, 'invalid_request'],
    [{ user_id: 'u', email: 'ada@example.com' }, 'invalid_request'],
    [{ user_id: 'u', phone_number: 'call me' }, 'invalid_phone_number'],
    [{ user_id: 'u', phone_number: '' }, 'invalid_phone_number'],
  ])('refuses %j with %s', (body, code) => {
    expect(() => readSyncRequest(body, phoneOnly)).toThrow(expect.objectContaining({ code }));
  });
});

describe('the sync request of a profile (the backfill)', () => {
  it.each([
    ['no phone number', { user_id: 'sms|1' }],
    ['an unreadable phone number', { user_id: 'sms|1', phone_number: 'call me' }],
    ['only an email, on a phone-only deployment', { user_id: 'sms|1', email: 'ada@example.com' }],
    ['an id no stamp may have', { user_id: '#signature#x', phone_number: '+15550100001' }],
  ])('is undefined for %s: nothing the CRM could be asked with', (_, user) => {
    expect(profileSyncRequest(user, phoneOnly)).toBeUndefined();
  });

  it('is what the API would read from the same fields, never forced', () => {
    const user = { user_id: 'sms|1', phone_number: '+1 555 010 0001', email: 'ada@example.com' };
    expect(profileSyncRequest(user, either)).toEqual(readSyncRequest(user, either));
    expect(profileSyncRequest({ ...user, force: true } as typeof user, either)?.force).toBe(false);
  });
});
