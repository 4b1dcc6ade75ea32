import {
  type CountryCode,
  getCountryCallingCode,
  Metadata,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/core';
import { normalisePhoneNumber, TRAILING_EXTENSION } from './phone.ts';
import { PHONE_METADATA } from './phone-metadata.ts';

/**
 * How a CRM that stores phone numbers as people typed them is asked for one, given in E.164.
 * HubSpot and Salesforce both keep what was typed ("555-010-0001", "(555) 010-0001"), so an
 * exact comparison with "+15550100001" finds nobody; each adapter says how it bridges that.
 */
export interface NationalNumber {
  /** The country calling code, such as "1" or "44". */
  readonly callingCode: string;
  /** The national significant number, digits only, without trunk prefix: "5550100001". */
  readonly digits: string;
  /** The trunk prefix dialled before it at home, such as "0" in the UK or "1" in the NANP. */
  readonly trunkPrefix: string | undefined;
}

/** The parts of an E.164 number; undefined when it is not one. */
export function nationalNumber(e164: string): NationalNumber | undefined {
  try {
    const parsed = parsePhoneNumberFromString(e164, PHONE_METADATA);
    if (parsed === undefined) return undefined;
    // By calling code, as the library itself does for numbers of no single country (its typings
    // name countries only, and leave out the plan's nationalPrefix()).
    const metadata = new Metadata(PHONE_METADATA);
    metadata.selectNumberingPlan(parsed.countryCallingCode as CountryCode);
    const plan = metadata.numberingPlan as
      | { nationalPrefix?: () => string | undefined }
      | undefined;
    return {
      callingCode: parsed.countryCallingCode,
      digits: parsed.nationalNumber,
      trunkPrefix: plan?.nationalPrefix?.() || undefined,
    };
  } catch {
    return undefined;
  }
}

/**
 * The ways people commonly type this number, for a CRM that can only compare text exactly
 * (Salesforce's SOQL). For the NANP (+1) the list is close to complete: the 10 digits grouped
 * 3-3-4 as "(555) 010-0001" (what Salesforce's US locale turns 10 typed digits into), with
 * dashes, dots, spaces or none, each with or without "1" or "+1" before it. Elsewhere digit
 * groups vary by country and operator, so only the ungrouped forms are listed: an org with
 * numbers from many countries keeps a normalised E.164 field (README, "Salesforce").
 */
export function typedForms(e164: string): readonly string[] {
  const number = nationalNumber(e164);
  if (number === undefined) return [e164];
  const { callingCode: cc, digits, trunkPrefix } = number;
  const forms = new Set([e164, `+${cc} ${digits}`, `00${cc}${digits}`, digits]);
  if (trunkPrefix) forms.add(`${trunkPrefix}${digits}`);
  if (cc === '1' && digits.length === 10) {
    const [area, exchange, line] = [digits.slice(0, 3), digits.slice(3, 6), digits.slice(6)];
    const grouped = [
      `(${area}) ${exchange}-${line}`,
      `(${area})${exchange}-${line}`,
      `${area}-${exchange}-${line}`,
      `${area}.${exchange}.${line}`,
      `${area} ${exchange} ${line}`,
    ];
    for (const form of grouped) {
      forms.add(form);
      forms.add(`+1 ${form}`);
      forms.add(`1 ${form}`);
    }
    forms.add(`1-${area}-${exchange}-${line}`);
    forms.add(`+1-${area}-${exchange}-${line}`);
    forms.add(`1${digits}`);
  }
  return [...forms];
}

/**
 * Whether a number as typed in the CRM is the E.164 number. One typed without a country code
 * is read in the CRM's home country (DEFAULT_PHONE_COUNTRY) when there is one, else in the
 * country of the number asked for: then "207-946-0958" is both the US and the UK number, and a
 * lookup of either finds it, which makes two contacts an ambiguity rather than a wrong pick.
 * A search on national digits alone (HubSpot's) also finds the same digits in other
 * countries; this keeps only the person's.
 */
export function isSameNumber(typed: unknown, e164: string, homeCountry?: CountryCode): boolean {
  if (typeof typed !== 'string') return false;
  // "020 7946 0958 ext. 12" is someone at that switchboard, not whoever logs in with its number.
  if (TRAILING_EXTENSION.test(typed)) return false;
  const number = nationalNumber(e164);
  if (number === undefined) return false;
  // Dialled to another country: 00 stands for "+" (national numbers do not begin so), and in
  // the NANP 011 does; elsewhere 011 may begin a national number (Sheffield's 0114).
  const nanp =
    (homeCountry ? getCountryCallingCode(homeCountry, PHONE_METADATA) : number.callingCode) === '1';
  const text = typed
    .trim()
    .replace(nanp ? /^(?:00|011)[\s.-]*(?=[1-9])/ : /^00[\s.-]*(?=[1-9])/, '+');
  const international = text.startsWith('+');
  if (homeCountry !== undefined || international) {
    const result = normalisePhoneNumber(text, international ? undefined : homeCountry);
    if (international || result.ok) return result.ok && result.e164 === e164;
  }
  const parsed = parsePhoneNumberFromString(e164, PHONE_METADATA);
  const country = parsed?.country;
  if (country !== undefined) {
    const result = normalisePhoneNumber(text, country);
    return result.ok && result.e164 === e164;
  }
  // A number of no single country (the NANP's fictional 555 range): compare the digits, with
  // the calling code or the trunk prefix before them or nothing.
  const digits = text.replace(/\D/g, '');
  return (
    digits === number.digits ||
    digits === `${number.callingCode}${number.digits}` ||
    (number.trunkPrefix !== undefined && digits === `${number.trunkPrefix}${number.digits}`)
  );
}
