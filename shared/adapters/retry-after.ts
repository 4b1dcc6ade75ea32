/**
 * Reads a `Retry-After` header (RFC 9110, section 10.2.3): either delay-seconds or an HTTP-date.
 * Returns the milliseconds to wait from `now`, or undefined when the header is absent, not
 * readable, or already in the past. The caller caps it: a hostile server may ask for a year.
 */
export function retryAfterMs(header: string | null | undefined, now: number): number | undefined {
  const text = header?.trim() ?? '';
  if (text === '') return undefined;
  const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : Date.parse(text) - now;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}
