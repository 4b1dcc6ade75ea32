import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endOfSyncDay, freshUntil, isValidTimeZone } from '../../../shared/domain/sync-day.ts';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const TRICKY_ZONES = [
  'UTC',
  'Europe/Paris',
  'America/New_York',
  'America/Santiago',
  'America/Sao_Paulo',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  'Pacific/Apia',
  'Pacific/Kiritimati',
  'America/Havana',
  'Asia/Beirut',
] as const;

const FROM = Date.UTC(1990, 0, 1);
const UNTIL = Date.UTC(2090, 0, 1);

// Independent of the implementation: its own formatters, read as whole strings.
const dateFormatters = new Map<string, Intl.DateTimeFormat>();
const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

function localDate(epochMs: number, timeZone: string): string {
  let formatter = dateFormatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    });
    dateFormatters.set(timeZone, formatter);
  }
  return formatter.format(epochMs);
}

function localClock(epochMs: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    fractionalSecondDigits: 3,
  }).format(epochMs);
}

function utcOffset(epochMs: number, timeZone: string): string {
  let formatter = offsetFormatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
    offsetFormatters.set(timeZone, formatter);
  }
  return formatter.formatToParts(epochMs).find((part) => part.type === 'timeZoneName')?.value ?? '';
}

/** Instants at which each zone's offset changes (weekly scan, then bisection), to aim tests at. */
function offsetChanges(timeZone: string): number[] {
  const WEEK_MS = 7 * DAY_MS;
  const changes: number[] = [];
  for (let from = FROM; from < UNTIL; from += WEEK_MS) {
    const before = utcOffset(from, timeZone);
    if (utcOffset(from + WEEK_MS, timeZone) === before) continue;
    let low = from;
    let high = from + WEEK_MS;
    while (high - low > 1_000) {
      const middle = low + Math.floor((high - low) / 2);
      if (utcOffset(middle, timeZone) === before) low = middle;
      else high = middle;
    }
    changes.push(high);
  }
  return changes;
}

const anyInstant = fc.integer({ min: FROM, max: UNTIL });

const changesByZone = TRICKY_ZONES.map((timeZone) => ({
  timeZone,
  changes: offsetChanges(timeZone),
})).filter(({ changes }) => changes.length > 0);

const zoneAndInstant = fc.oneof(
  fc.record({ timeZone: fc.constantFrom(...TRICKY_ZONES), epochMs: anyInstant }),
  // Uniform instants almost never land on a DST change; these land within 36 hours of one.
  fc.constantFrom(...changesByZone).chain(({ timeZone, changes }) =>
    fc.record({
      timeZone: fc.constant(timeZone),
      epochMs: fc
        .tuple(fc.constantFrom(...changes), fc.integer({ min: -36 * HOUR_MS, max: 36 * HOUR_MS }))
        .map(([change, shift]) => change + shift),
    }),
  ),
);

describe('endOfSyncDay', () => {
  it('a login in the morning in a UTC deployment stays fresh until midnight UTC', () => {
    expect(endOfSyncDay(new Date('2026-11-26T08:15:00Z'), 'UTC').toISOString()).toBe(
      '2026-11-27T00:00:00.000Z',
    );
  });

  it('the same login stays fresh until midnight in New York when that is the configured zone', () => {
    expect(endOfSyncDay(new Date('2026-11-26T08:15:00Z'), 'America/New_York').toISOString()).toBe(
      '2026-11-27T05:00:00.000Z',
    );
  });

  it('a login late in the evening in New York stays fresh only until local midnight', () => {
    // 23:30 on 26 November in New York, already 27 November in UTC.
    expect(endOfSyncDay(new Date('2026-11-27T04:30:00Z'), 'America/New_York').toISOString()).toBe(
      '2026-11-27T05:00:00.000Z',
    );
  });

  it('a login one millisecond before midnight is stale one millisecond later', () => {
    expect(endOfSyncDay(new Date('2026-11-26T23:59:59.999Z'), 'UTC').toISOString()).toBe(
      '2026-11-27T00:00:00.000Z',
    );
  });

  it('a login at the stroke of midnight stays fresh for the whole new day', () => {
    expect(endOfSyncDay(new Date('2026-11-27T00:00:00.000Z'), 'UTC').toISOString()).toBe(
      '2026-11-28T00:00:00.000Z',
    );
  });

  it('the day the clocks go forward in Paris lasts 23 hours', () => {
    // 01:30 CET on 29 March 2026; at 02:00 the clocks jump to 03:00 CEST.
    const now = new Date('2026-03-29T00:30:00Z');
    const end = endOfSyncDay(now, 'Europe/Paris');
    expect(end.toISOString()).toBe('2026-03-29T22:00:00.000Z');
  });

  it('the day the clocks go back in Paris lasts 25 hours', () => {
    const end = endOfSyncDay(new Date('2026-10-25T12:00:00Z'), 'Europe/Paris');
    expect(end.toISOString()).toBe('2026-10-25T23:00:00.000Z');
    expect(endOfSyncDay(new Date('2026-10-24T22:00:00Z'), 'Europe/Paris')).toEqual(end);
  });

  it('in Santiago, where midnight is skipped when summer time starts, the next day starts at 01:00', () => {
    // On 6 September 2026 Chilean clocks go from 23:59:59.999 on the 5th straight to 01:00.
    const end = endOfSyncDay(new Date('2026-09-05T15:00:00Z'), 'America/Santiago');
    expect(end.toISOString()).toBe('2026-09-06T04:00:00.000Z');
    expect(localClock(end.getTime(), 'America/Santiago')).toBe('01:00:00.000');
  });

  it('in Havana and Beirut, where midnight is skipped in March, the next day starts at 01:00', () => {
    expect(endOfSyncDay(new Date('2026-03-07T15:00:00Z'), 'America/Havana').toISOString()).toBe(
      '2026-03-08T05:00:00.000Z',
    );
    expect(endOfSyncDay(new Date('2026-03-28T10:00:00Z'), 'Asia/Beirut').toISOString()).toBe(
      '2026-03-28T22:00:00.000Z',
    );
  });

  it('when the clocks jumped from 23:30 straight to 00:30 (Toronto, 1919), the day starts at 00:30', () => {
    // Not at midnight and not on the hour: the only kind of day that needs the exact search.
    const end = endOfSyncDay(new Date('1919-03-30T17:00:00Z'), 'America/Toronto');
    expect(end.toISOString()).toBe('1919-03-31T04:30:00.000Z');
    expect(localClock(end.getTime(), 'America/Toronto')).toBe('00:30:00.000');
    expect(localClock(end.getTime() - 1, 'America/Toronto')).toBe('23:29:59.999');
  });

  it('zones with half-hour and 45-minute offsets end the day at their own midnight', () => {
    const now = new Date('2026-11-26T08:15:00Z');
    expect(endOfSyncDay(now, 'Asia/Kolkata').toISOString()).toBe('2026-11-26T18:30:00.000Z');
    expect(endOfSyncDay(now, 'Asia/Kathmandu').toISOString()).toBe('2026-11-26T18:15:00.000Z');
  });

  it('Lord Howe Island, whose clocks move by half an hour, gets 23.5 and 23 hour days', () => {
    expect(
      endOfSyncDay(new Date('2026-04-04T14:00:00Z'), 'Australia/Lord_Howe').toISOString(),
    ).toBe('2026-04-05T13:30:00.000Z');
    expect(
      endOfSyncDay(new Date('2026-10-03T14:00:00Z'), 'Australia/Lord_Howe').toISOString(),
    ).toBe('2026-10-04T13:00:00.000Z');
  });

  it('in Samoa, which skipped 30 December 2011, the 29th is followed by the 31st', () => {
    const end = endOfSyncDay(new Date('2011-12-29T12:00:00Z'), 'Pacific/Apia');
    expect(end.toISOString()).toBe('2011-12-30T10:00:00.000Z');
    expect(localDate(end.getTime(), 'Pacific/Apia')).toBe('2011-12-31');
  });

  it('refuses an unknown time zone or an invalid date instead of guessing', () => {
    expect(() => endOfSyncDay(new Date('2026-11-26T08:15:00Z'), 'Mars/Olympus_Mons')).toThrow(
      RangeError,
    );
    expect(() => endOfSyncDay(new Date(Number.NaN), 'UTC')).toThrow(RangeError);
  });

  it('always ends the local day of the login, however the clocks move (property)', () => {
    fc.assert(
      fc.property(zoneAndInstant, ({ timeZone, epochMs }) => {
        const end = endOfSyncDay(new Date(epochMs), timeZone).getTime();
        expect(end).toBeGreaterThan(epochMs);
        expect(end - epochMs).toBeLessThanOrEqual(27 * HOUR_MS);
        expect(localDate(end, timeZone)).not.toBe(localDate(epochMs, timeZone));
        expect(localDate(end - 1, timeZone)).toBe(localDate(epochMs, timeZone));
      }),
      { numRuns: 3_000 },
    );
  });

  it('the new day starts at local midnight, or where the clocks jump over it (property)', () => {
    fc.assert(
      fc.property(zoneAndInstant, ({ timeZone, epochMs }) => {
        const end = endOfSyncDay(new Date(epochMs), timeZone).getTime();
        if (localClock(end, timeZone) !== '00:00:00.000') {
          expect(utcOffset(end, timeZone)).not.toBe(utcOffset(end - 1, timeZone));
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('every login on the same local day stays fresh until the same instant (property)', () => {
    fc.assert(
      fc.property(zoneAndInstant, fc.double({ min: 0, max: 1, noNaN: true }), (login, f) => {
        const { timeZone, epochMs } = login;
        const end = endOfSyncDay(new Date(epochMs), timeZone).getTime();
        const later = epochMs + Math.floor((end - 1 - epochMs) * f);
        expect(endOfSyncDay(new Date(later), timeZone).getTime()).toBe(end);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('freshUntil', () => {
  const now = new Date('2026-11-26T08:15:00Z');

  it('without a maximum age, a result stays fresh until the end of the day', () => {
    expect(freshUntil(now, 'UTC')).toEqual(endOfSyncDay(now, 'UTC'));
  });

  it('a "not found" with a one-hour maximum age is retried after an hour', () => {
    expect(freshUntil(now, 'UTC', 3_600).toISOString()).toBe('2026-11-26T09:15:00.000Z');
  });

  it('a maximum age longer than the rest of the day does not extend past midnight', () => {
    expect(freshUntil(now, 'UTC', 86_400).toISOString()).toBe('2026-11-27T00:00:00.000Z');
    const lateInNewYork = new Date('2026-11-27T04:30:00Z');
    expect(freshUntil(lateInNewYork, 'America/New_York', 3_600).toISOString()).toBe(
      '2026-11-27T05:00:00.000Z',
    );
  });

  it('refuses a negative or missing-number maximum age', () => {
    expect(() => freshUntil(now, 'UTC', -1)).toThrow(RangeError);
    expect(() => freshUntil(now, 'UTC', Number.NaN)).toThrow(RangeError);
  });

  it('is the earlier of the end of the day and the maximum age (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TRICKY_ZONES),
        anyInstant,
        fc.integer({ min: 0, max: 2 * 86_400 }),
        (timeZone, epochMs, maxAgeSeconds) => {
          const login = new Date(epochMs);
          const end = endOfSyncDay(login, timeZone).getTime();
          const fresh = freshUntil(login, timeZone, maxAgeSeconds).getTime();
          expect(fresh).toBe(Math.min(end, epochMs + maxAgeSeconds * 1000));
        },
      ),
    );
  });
});

describe('isValidTimeZone', () => {
  it('accepts IANA zones and rejects anything else', () => {
    expect(isValidTimeZone('Europe/Paris')).toBe(true);
    expect(isValidTimeZone('UTC')).toBe(true);
    expect(isValidTimeZone('Asia/Kathmandu')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(isValidTimeZone('')).toBe(false);
    expect(isValidTimeZone('Europe/Paris; DROP TABLE')).toBe(false);
  });

  it('accepts every zone the runtime lists', () => {
    for (const zone of Intl.supportedValuesOf('timeZone')) expect(isValidTimeZone(zone)).toBe(true);
  });
});
