/*
 * A CRM lookup stays fresh until the end of the day in the zone the business is configured for,
 * not the server's local time (Lambda runs in UTC), so that "synced today" means what people in
 * that zone expect. Day boundaries move with DST, and in some zones (America/Santiago,
 * America/Havana, Asia/Beirut) local midnight itself is skipped some years, so the boundary is
 * read from the time zone database rather than assumed to be 24 hours after the last one.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * The default zone, answered without the time zone database: UTC days are exactly 86,400,000 ms
 * of JavaScript time (which has no leap seconds). The database's first use costs a new Lambda
 * instance about 20 ms of ICU initialisation (`npm run bench -- --only=cold`), paid by the first
 * login otherwise. Only this exact name: any other ('Etc/UTC' too) is read from the database.
 */
const UTC = 'UTC';

/**
 * DST days last at most 26 hours (Antarctica/Troll moves by two), so the next day has usually
 * begun 27 hours after any instant. One-off zone changes made longer days (Antarctica/Vostok in
 * 1994, Alaska repeating a whole date in 1867), so the search widens, up to a week.
 */
const SEARCH_WINDOW_MS = 27 * HOUR_MS;
const MAX_SEARCH_WINDOW_MS = 7 * DAY_MS;

/** Enough for every zone name and its casing variants in practice; bounds memory if fed junk. */
const MAX_CACHED_ZONES = 1_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    // A fixed calendar, numbering system and 0-23 hour cycle keep the parts parseable whatever
    // the host's default locale is.
    formatter = new Intl.DateTimeFormat('en-US-u-ca-gregory-nu-latn', {
      timeZone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    if (formatters.size >= MAX_CACHED_ZONES) formatters.clear();
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

type LocalTime = {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
};

function localTime(formatter: Intl.DateTimeFormat, epochMs: number): LocalTime {
  const local: LocalTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  let beforeCommonEra = false;
  for (const part of formatter.formatToParts(epochMs)) {
    switch (part.type) {
      case 'era':
        beforeCommonEra = part.value === 'BC' || part.value === 'B';
        break;
      case 'year':
      case 'month':
      case 'day':
      case 'hour':
      case 'minute':
      case 'second':
        local[part.type] = Number(part.value);
        break;
      default:
        break;
    }
  }
  // Proleptic Gregorian "1 BC" is astronomical year 0.
  if (beforeCommonEra) local.year = 1 - local.year;
  return local;
}

/** Comparable key of a local calendar date; only equality and order matter. */
function dateKey(local: LocalTime): number {
  return (local.year * 16 + local.month) * 32 + local.day;
}

/** Wall-clock fields read as if they were UTC. Date.UTC would map years 0-99 to 1900-1999. */
function wallClockAsUtc(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millisecond: number,
): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, millisecond);
  return date.getTime();
}

/**
 * The first instant of the local calendar day after the one `now` falls on in `timeZone`.
 *
 * @throws RangeError when `now` is an invalid date or `timeZone` is not a known IANA zone.
 */
export function endOfSyncDay(now: Date, timeZone: string): Date {
  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw new RangeError('endOfSyncDay: now is an invalid date');
  if (timeZone === UTC) {
    const end = new Date((Math.floor(nowMs / DAY_MS) + 1) * DAY_MS);
    // The last day JavaScript dates reach has no next day to end at, in any zone.
    if (Number.isNaN(end.getTime())) {
      throw new RangeError(`endOfSyncDay: no day boundary found after ${now.toISOString()}`);
    }
    return end;
  }
  const formatter = formatterFor(timeZone);
  const local = localTime(formatter, nowMs);
  const today = dateKey(local);

  const offsetAt = (epochMs: number, at = localTime(formatter, epochMs)): number => {
    const millisecond = ((epochMs % 1000) + 1000) % 1000;
    return (
      wallClockAsUtc(at.year, at.month, at.day, at.hour, at.minute, at.second, millisecond) -
      epochMs
    );
  };
  const isToday = (epochMs: number): boolean => dateKey(localTime(formatter, epochMs)) === today;
  const isBoundary = (epochMs: number): boolean =>
    epochMs > nowMs && !isToday(epochMs) && isToday(epochMs - 1);

  const nextMidnightWallClock = wallClockAsUtc(local.year, local.month, local.day + 1, 0, 0, 0, 0);

  // Usually the offset now still holds at midnight; if a transition falls in between, the offset
  // at the first guess is the one in force at midnight. When the clocks jump over midnight on the
  // hour (Santiago: 24:00 becomes 01:00), the offset before the jump lands exactly on it.
  const firstGuess = nextMidnightWallClock - offsetAt(nowMs, local);
  if (isBoundary(firstGuess)) return new Date(firstGuess);
  const secondGuess = nextMidnightWallClock - offsetAt(firstGuess);
  if (secondGuess !== firstGuess && isBoundary(secondGuess)) return new Date(secondGuess);

  // The day changes somewhere no guess lands on, e.g. clocks that jumped from 23:30 to 00:30
  // (Toronto, 1919). Bisect to the exact millisecond: `low` is always today, `high` never is.
  let low = nowMs;
  let high = nowMs + SEARCH_WINDOW_MS;
  for (const guess of [firstGuess, secondGuess]) {
    if (guess <= low || guess >= high) continue;
    if (isToday(guess)) low = guess;
    else high = guess;
  }
  while (isToday(high) && high - nowMs < MAX_SEARCH_WINDOW_MS) high += SEARCH_WINDOW_MS;
  if (isToday(high)) {
    throw new RangeError(`endOfSyncDay: no day boundary found after ${now.toISOString()}`);
  }
  while (high - low > 1) {
    const middle = low + Math.floor((high - low) / 2);
    if (isToday(middle)) low = middle;
    else high = middle;
  }
  return new Date(high);
}

/** Whether `timeZone` is an IANA zone (or offset) this runtime's time zone database knows. */
export function isValidTimeZone(timeZone: string): boolean {
  if (typeof timeZone !== 'string' || timeZone === '') return false;
  if (timeZone === UTC) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Until when a CRM result fetched at `now` may be reused: the end of the sync day, or sooner
 * when `maxAgeSeconds` says so (a "not found" should be retried before a whole day passes).
 *
 * @throws RangeError when `maxAgeSeconds` is negative or NaN, and as {@link endOfSyncDay}.
 */
export function freshUntil(now: Date, timeZone: string, maxAgeSeconds?: number): Date {
  const endOfDay = endOfSyncDay(now, timeZone);
  if (maxAgeSeconds === undefined) return endOfDay;
  if (Number.isNaN(maxAgeSeconds) || maxAgeSeconds < 0) {
    throw new RangeError('freshUntil: maxAgeSeconds must be a non-negative number');
  }
  const capped = now.getTime() + Math.floor(maxAgeSeconds * 1000);
  return capped < endOfDay.getTime() ? new Date(capped) : endOfDay;
}
