import fc from 'fast-check';
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/min';
import { describe, expect, it } from 'vitest';
import { isCountryCode, normalisePhoneNumber } from '../../../shared/domain/phone.ts';

const E164 = /^\+[1-9]\d{1,14}$/;

const digits = (length: number) =>
  fc
    .array(fc.integer({ min: 0, max: 9 }), { minLength: length, maxLength: length })
    .map((ds) => ds.join(''));

/** Real numbering ranges (many of them the ones set aside for fiction) with random subscriber digits. */
const numberPlans: ReadonlyArray<{
  country: CountryCode;
  callingCode: string;
  prefix: fc.Arbitrary<string>;
  rest: number;
}> = [
  {
    country: 'US',
    callingCode: '1',
    prefix: fc
      .constantFrom('555', '212', '415', '646', '907')
      .chain((area) => fc.integer({ min: 200, max: 999 }).map((exchange) => `${area}${exchange}`)),
    rest: 4,
  },
  { country: 'US', callingCode: '1', prefix: fc.constant('555010'), rest: 4 },
  { country: 'GB', callingCode: '44', prefix: fc.constantFrom('20794', '7700900'), rest: 3 },
  { country: 'FR', callingCode: '33', prefix: fc.constantFrom('1', '6', '7'), rest: 8 },
  { country: 'DE', callingCode: '49', prefix: fc.constantFrom('30', '89', '151'), rest: 7 },
  { country: 'IN', callingCode: '91', prefix: fc.constantFrom('98', '70', '11'), rest: 8 },
  { country: 'AU', callingCode: '61', prefix: fc.constantFrom('4', '2', '3'), rest: 8 },
  { country: 'JP', callingCode: '81', prefix: fc.constantFrom('3', '90'), rest: 8 },
  { country: 'BR', callingCode: '55', prefix: fc.constantFrom('119', '219'), rest: 8 },
];

const possibleNumber = fc
  .constantFrom(...numberPlans)
  .chain(({ country, callingCode, prefix, rest }) =>
    fc
      .tuple(prefix, digits(rest))
      .map(([start, end]) => ({ country, e164: `+${callingCode}${start}${end}` })),
  )
  .filter(({ e164 }) => parsePhoneNumberFromString(e164)?.isPossible() === true);

const separator = fc.constantFrom(' ', '  ', '-', '.', '', ' - ', '/', '\u00a0');
const padding = fc.constantFrom('', ' ', '  ', '\t', '\n');

/** Re-spaces a formatted number the way people do: other separators, optional parentheses. */
function retyped(formatted: string): fc.Arbitrary<string> {
  const groups = formatted.split(/[\s\-()]+/).filter((group) => group !== '');
  return fc
    .tuple(
      fc.array(separator, { minLength: groups.length, maxLength: groups.length }),
      fc.array(fc.boolean(), { minLength: groups.length, maxLength: groups.length }),
      padding,
      padding,
    )
    .map(([separators, parenthesised, before, after]) => {
      const parts = groups.map((group, index) =>
        parenthesised[index] === true && index > 0 && !group.startsWith('+') ? `(${group})` : group,
      );
      const body = parts.map((part, index) => (index === 0 ? part : `${separators[index]}${part}`));
      return `${before}${body.join('')}${after}`;
    });
}

const typedInternationally = possibleNumber.chain(({ country, e164 }) => {
  const parsed = parsePhoneNumberFromString(e164);
  if (parsed === undefined) throw new Error(`generator produced an unparsable ${e164}`);
  return fc
    .oneof(retyped(parsed.formatInternational()), fc.constant(e164))
    .map((typed) => ({ country, e164, typed }));
});

const typedNationally = possibleNumber.chain(({ country, e164 }) => {
  const parsed = parsePhoneNumberFromString(e164);
  if (parsed === undefined) throw new Error(`generator produced an unparsable ${e164}`);
  return retyped(parsed.formatNational()).map((typed) => ({ country, e164, typed }));
});

const phoneish = fc.string({
  unit: fc.constantFrom(...'0123456789+-(). x#ext ٠١２'.split('')),
  maxLength: 40,
});

const anyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  phoneish,
);

describe('normalisePhoneNumber', () => {
  it('a US number typed with a country code, parentheses and a dash is understood', () => {
    expect(normalisePhoneNumber('+1 (555) 123-4567')).toEqual({ ok: true, e164: '+15551234567' });
  });

  it('a London number typed the British way is understood', () => {
    expect(normalisePhoneNumber('+44 20 7946 0958')).toEqual({ ok: true, e164: '+442079460958' });
    expect(normalisePhoneNumber('020 7946 0958', 'GB')).toEqual({
      ok: true,
      e164: '+442079460958',
    });
  });

  it('a fictional 555-01xx number from the CRM test data is accepted', () => {
    expect(normalisePhoneNumber('+1 555 010 0001')).toEqual({ ok: true, e164: '+15550100001' });
  });

  it('a number without a country code is understood when the deployment has a default country', () => {
    expect(normalisePhoneNumber('(555) 123-4567', 'US')).toEqual({
      ok: true,
      e164: '+15551234567',
    });
  });

  it('a number without a country code is refused when there is no default country', () => {
    expect(normalisePhoneNumber('(555) 123-4567')).toEqual({ ok: false });
  });

  it('an international dialling prefix is understood only from the country that uses it', () => {
    expect(normalisePhoneNumber('001 555 123 4567')).toEqual({ ok: false });
    expect(normalisePhoneNumber('001 555 123 4567', 'GB')).toEqual({
      ok: true,
      e164: '+15551234567',
    });
    expect(normalisePhoneNumber('011 44 20 7946 0958', 'US')).toEqual({
      ok: true,
      e164: '+442079460958',
    });
  });

  it('an extension is allowed but not kept, since E.164 cannot hold it', () => {
    for (const typed of [
      '+1 555 123 4567 ext. 89',
      '+1 555 123 4567 x89',
      '+1 555 123 4567;ext=89',
      '+1 555 123 4567 extension 89',
    ]) {
      expect(normalisePhoneNumber(typed)).toEqual({ ok: true, e164: '+15551234567' });
    }
  });

  it('a number pasted with tabs, no-break spaces or a trailing newline is understood', () => {
    expect(normalisePhoneNumber('\t+1\u00a0555\u2009123 4567\r\n')).toEqual({
      ok: true,
      e164: '+15551234567',
    });
  });

  it('full-width digits from a Japanese keyboard are understood', () => {
    expect(normalisePhoneNumber('+１ ５５５ １２３ ４５６７')).toEqual({
      ok: true,
      e164: '+15551234567',
    });
  });

  it('text that is not a phone number is refused', () => {
    for (const typed of [
      'not a phone',
      '',
      '   ',
      '+',
      '12',
      '+1',
      '1-800-FLOWERS',
      'call +1 555 123 4567',
      '+1 555 123 4567 now',
      'tel:+15551234567',
      '+1 555 123 4567 / +1 555 765 4321',
      '++1 555 123 4567',
      '+44 20 7946 0958 1234 5678',
    ]) {
      expect(normalisePhoneNumber(typed), typed).toEqual({ ok: false });
    }
    expect(normalisePhoneNumber('1-800-FLOWERS', 'US')).toEqual({ ok: false });
  });

  it('very long input is refused, even when it is all digits', () => {
    expect(normalisePhoneNumber('5'.repeat(200))).toEqual({ ok: false });
    expect(normalisePhoneNumber(`+1 555 123 4567${' '.repeat(60)}`)).toEqual({ ok: false });
  });

  it('however an international number is spaced, it normalises to the same E.164 (property)', () => {
    fc.assert(
      fc.property(typedInternationally, ({ e164, typed }) => {
        expect(normalisePhoneNumber(typed)).toEqual({ ok: true, e164 });
      }),
      { numRuns: 500 },
    );
  });

  it('however a national number is spaced, the default country completes it (property)', () => {
    fc.assert(
      fc.property(typedNationally, ({ country, e164, typed }) => {
        expect(normalisePhoneNumber(typed, country)).toEqual({ ok: true, e164 });
      }),
      { numRuns: 500 },
    );
  });

  it('normalising a normalised number changes nothing (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          typedInternationally.map(({ typed }) => typed),
          anyText,
        ),
        fc.constantFrom<CountryCode | undefined>(undefined, 'US', 'GB', 'IN'),
        (typed, country) => {
          const first = normalisePhoneNumber(typed, country);
          if (!first.ok) return;
          expect(normalisePhoneNumber(first.e164)).toEqual(first);
          expect(normalisePhoneNumber(first.e164, country)).toEqual(first);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('never throws on arbitrary text, and anything accepted is E.164 (property)', () => {
    fc.assert(
      fc.property(
        anyText,
        fc.constantFrom<CountryCode | undefined>(undefined, 'US', 'GB', 'DE', 'IN'),
        (typed, country) => {
          const result = normalisePhoneNumber(typed, country);
          if (result.ok) expect(result.e164).toMatch(E164);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('isCountryCode', () => {
  it('accepts ISO country codes the phone metadata knows and nothing else', () => {
    expect(isCountryCode('US')).toBe(true);
    expect(isCountryCode('GB')).toBe(true);
    expect(isCountryCode('us')).toBe(false);
    expect(isCountryCode('XX')).toBe(false);
    expect(isCountryCode('')).toBe(false);
    expect(isCountryCode('001')).toBe(false);
    expect(isCountryCode('toString')).toBe(false);
    expect(isCountryCode('__proto__')).toBe(false);
  });
});
