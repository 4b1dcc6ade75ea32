import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { endOfSyncDay, freshUntil, isValidTimeZone } from '#shared/domain/sync-day.ts';

/**
 * SYNC_TIME_ZONE=UTC, the default, is answered without the time zone database, whose first use
 * costs a new Lambda instance about 20 ms (sync-day.ts): the same answers, without ICU.
 */
const MAX_DATE_MS = 8.64e15;
const DAY_MS = 86_400_000;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the UTC sync day', () => {
  it('ends where the time zone database says, across the whole range of dates', () => {
    fc.assert(
      fc.property(fc.integer({ min: -MAX_DATE_MS, max: MAX_DATE_MS - DAY_MS }), (epochMs) => {
        const now = new Date(epochMs);
        // Etc/UTC is the same zone by another name, so it is read from the database.
        expect(endOfSyncDay(now, 'UTC').getTime()).toBe(endOfSyncDay(now, 'Etc/UTC').getTime());
      }),
      { numRuns: 2_000 },
    );
  });

  it('ends at the next midnight even from the last millisecond of a day, and from midnight itself', () => {
    expect(endOfSyncDay(new Date('0099-12-31T23:59:59.999Z'), 'UTC').toISOString()).toBe(
      '0100-01-01T00:00:00.000Z',
    );
    expect(endOfSyncDay(new Date('-000001-03-01T00:00:00.000Z'), 'UTC').toISOString()).toBe(
      '-000001-03-02T00:00:00.000Z',
    );
  });

  it('has no end on the last day a date can hold, as the time zone database has none', () => {
    const last = new Date(MAX_DATE_MS);
    expect(() => endOfSyncDay(last, 'Etc/UTC')).toThrow(RangeError);
    expect(() => endOfSyncDay(last, 'UTC')).toThrow(RangeError);
  });

  it('never builds an Intl.DateTimeFormat: not to check the zone, nor to end the day', () => {
    const formats = vi.spyOn(Intl, 'DateTimeFormat');
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(freshUntil(new Date('2026-12-01T16:00:00Z'), 'UTC', 3_600).toISOString()).toBe(
      '2026-12-01T17:00:00.000Z',
    );
    expect(endOfSyncDay(new Date('2026-12-01T16:00:00Z'), 'UTC').toISOString()).toBe(
      '2026-12-02T00:00:00.000Z',
    );
    expect(formats).not.toHaveBeenCalled();
    // Any other zone still reads the database.
    endOfSyncDay(new Date('2026-12-01T16:00:00Z'), 'Europe/Paris');
    isValidTimeZone('Mars/Olympus_Mons');
    expect(formats).toHaveBeenCalled();
  });
});
