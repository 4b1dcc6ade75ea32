import {
  type CountryCode,
  isSupportedCountry,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/core';
// libphonenumber-js's min metadata without the formatting rules, which parsing never reads:
// tools/build-phone-metadata.ts says why (about 50 KiB of the sync bundle) and how it is made.
import { PHONE_METADATA } from './phone-metadata.ts';

export type { CountryCode };

export type PhoneResult = { ok: true; e164: string } | { ok: false };

/** Longer input is not a phone number someone typed; refuse it before the parser spends time. */
const MAX_INPUT_LENGTH = 64;

/**
 * An extension at the end ("ext. 12", "x12", ";ext=12") is the only place letters may appear;
 * the parser understands it, and E.164 has no room for it, so it is dropped from the result.
 */
export const TRAILING_EXTENSION = /(?:ext(?:ension)?|x)\s*[.:=]?\s*\d+\s*#?\s*$/i;
const LETTER = /\p{L}/u;
/** Tabs, no-break and thin spaces come with pasted numbers; the parser only skips plain spaces. */
const WHITESPACE = /\s+/gu;
const E164 = /^\+[1-9]\d{1,14}$/;

const REJECTED: PhoneResult = { ok: false };

/**
 * Normalises a phone number as a person would type it to E.164.
 *
 * A number is accepted when its length is possible for its country, not when it is assigned:
 * CRMs hold fictional numbers (+1 555 010 0001) and numbering plans change faster than the
 * bundled metadata. Without `defaultCountry`, only international formats can be understood.
 * Never throws.
 */
export function normalisePhoneNumber(input: string, defaultCountry?: CountryCode): PhoneResult {
  if (typeof input !== 'string' || input.length === 0 || input.length > MAX_INPUT_LENGTH) {
    return REJECTED;
  }
  const text = input.replace(WHITESPACE, ' ').trim();
  if (text === '' || LETTER.test(text.replace(TRAILING_EXTENSION, ''))) return REJECTED;
  try {
    // Without `extract: false` the parser would pick a number out of any surrounding text.
    const phoneNumber = parsePhoneNumberFromString(
      text,
      defaultCountry === undefined ? { extract: false } : { defaultCountry, extract: false },
      PHONE_METADATA,
    );
    if (phoneNumber === undefined || !phoneNumber.isPossible()) return REJECTED;
    const e164: string = phoneNumber.number;
    return E164.test(e164) ? { ok: true, e164 } : REJECTED;
  } catch {
    return REJECTED;
  }
}

/** Whether `s` is a country the bundled metadata knows, for checking configuration. */
export function isCountryCode(s: string): s is CountryCode {
  return typeof s === 'string' && isSupportedCountry(s as CountryCode, PHONE_METADATA);
}
