import fc from 'fast-check';
import { type CountryCode, getCountries, parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { describe, expect, it } from 'vitest';
import { normalisePhoneNumber } from '#shared/domain/phone.ts';
import { PHONE_METADATA } from '#shared/domain/phone-metadata.ts';
import { installedMinMetadata, metadataWithoutFormats } from '#tools/build-phone-metadata.ts';

/** What the service did with the library's own min metadata, formats included. */
function withFullMinMetadata(input: string, defaultCountry?: CountryCode) {
  const text = input.replace(/\s+/gu, ' ').trim();
  const parsed = parsePhoneNumberFromString(
    text,
    defaultCountry === undefined ? { extract: false } : { defaultCountry, extract: false },
  );
  // As normalisePhoneNumber: a possible number, and one E.164 has room for.
  return parsed?.isPossible() && /^\+[1-9]\d{1,14}$/.test(parsed.number)
    ? parsed.number
    : undefined;
}

const countries = getCountries();

/** Numbers as people type them: national or international, with the usual separators. */
const typedNumber = fc
  .tuple(
    fc.constantFrom('', '+', '00', '0', '011', '8'),
    fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 3, maxLength: 15 }),
    fc.constantFrom('', ' ', '-', '.', ') ', '/'),
  )
  .map(([lead, ds, sep]) => {
    const digits = ds.join('');
    const cut = Math.min(3, digits.length);
    return `${lead}${digits.slice(0, cut)}${sep}${digits.slice(cut)}`;
  });

describe('the phone metadata shipped in the bundles (formats removed)', () => {
  it('is the installed libphonenumber-js min metadata without its formats: run `npm run build:phone-metadata` after an update', () => {
    expect(PHONE_METADATA).toEqual(metadataWithoutFormats(installedMinMetadata()));
  });

  it('is less than half the size of the metadata it comes from', () => {
    const full = JSON.stringify(installedMinMetadata()).length;
    expect(JSON.stringify(PHONE_METADATA).length).toBeLessThan(full / 2);
  });

  it('normalises every number exactly as the full min metadata does, in every country', () => {
    fc.assert(
      fc.property(
        typedNumber,
        fc.option(fc.constantFrom(...countries), { nil: undefined }),
        (input, country) => {
          const ours = normalisePhoneNumber(input, country);
          expect(ours.ok ? ours.e164 : undefined).toBe(withFullMinMetadata(input, country));
        },
      ),
      { numRuns: 5_000 },
    );
  });
});
