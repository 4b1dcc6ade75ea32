import { describe, expect, it } from 'vitest';
import type { StampEntry, SyncStamp } from '#shared/domain/ports.ts';
import { explainUser } from '#shared/domain/user-explanation.ts';

const NS = 'https://crm.example.com/';
const T = Date.parse('2026-12-01T09:00:00.000Z');
const stamp: SyncStamp = {
  userId: 'email|ada',
  status: 'synced',
  crmId: 'C-1001',
  fields: { crm_id: 'C-1001' },
  syncedAt: T,
  freshUntil: Date.parse('2026-12-02T00:00:00.000Z'),
  basis: 'b',
};
const explain = (entry: StampEntry | undefined, now = T + 1_000) =>
  explainUser('email|ada', entry, now, NS);

describe('explainUser', () => {
  it('nothing held (or only a lease): undefined, the 404', () => {
    expect(explain(undefined)).toBeUndefined();
    expect(explain({ lease: { owner: 'o', until: T + 5_000 } })).toBeUndefined();
  });

  it('reports the kind of match key of the last lookup, and null when the stamp predates it', () => {
    expect(explain({ stamp, matchKey: 'email' })?.match_key).toBe('email');
    expect(explain({ stamp })?.match_key).toBeNull();
  });

  it('a failure no later than the answer (clocks of two instances) does not make it stale', () => {
    const entry = { stamp, lastFailure: { code: 'timeout' as const, at: T - 1 } };
    expect(explain(entry)).toMatchObject({ status: 'synced', last_failure: null });
  });

  it('a failure after the answer while the stamp is fresh: its own status, the failure shown', () => {
    const entry = { stamp, lastFailure: { code: 'fault' as const, at: T + 500 } };
    expect(explain(entry)).toMatchObject({
      status: 'synced',
      fresh: true,
      next_login: 'answered_from_stamp',
      last_failure: { code: 'fault', at: '2026-12-01T09:00:00.500Z' },
    });
  });

  it('a failure after the answer once the stamp is no longer fresh: stale', () => {
    const entry = { stamp, lastFailure: { code: 'fault' as const, at: T + 500 } };
    expect(explain(entry, stamp.freshUntil)).toMatchObject({
      status: 'stale',
      fresh: false,
      next_login: 'asks_crm',
      last_failure: { code: 'fault', at: '2026-12-01T09:00:00.500Z' },
    });
    const notFound = { ...stamp, status: 'not_found' as const, crmId: null, fields: {} };
    const later = { stamp: notFound, lastFailure: entry.lastFailure };
    expect(explain(later, stamp.freshUntil)?.status).toBe('stale');
    expect(explain(later)?.status).toBe('not_found');
  });

  it('claims are the names a login answered from the stamp gets, never their values', () => {
    const named = { ...stamp, fields: { crm_id: 'C-1001', name: 'Ada Lovelace' } };
    const claims = explain({ stamp: named })?.claims;
    expect(claims).toEqual([`${NS}crm_id`, `${NS}name`]);
    expect(JSON.stringify(explain({ stamp: named }))).not.toContain('Ada Lovelace');
    expect(explain({ lastFailure: { code: 'timeout', at: T } })?.claims).toEqual([]);
  });

  it('an expired lease is no lookup in flight; fresh ends at fresh_until', () => {
    const entry = { stamp, lease: { owner: 'o', until: T } };
    expect(explain(entry)).toMatchObject({ lookup_in_flight: false, fresh: true });
    expect(explain(entry, stamp.freshUntil)).toMatchObject({
      fresh: false,
      next_login: 'asks_crm',
    });
  });
});
