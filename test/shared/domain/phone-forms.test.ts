import { describe, expect, it } from 'vitest';
import { isSameNumber, nationalNumber, typedForms } from '#shared/domain/phone-forms.ts';
import { AmbiguousMatch } from '#shared/domain/ports.ts';

/** How a number typed in a CRM is matched to the E.164 number a login carries. */
describe('nationalNumber', () => {
  it('splits an E.164 number into calling code, national digits and trunk prefix', () => {
    expect(nationalNumber('+15550100001')).toEqual({
      callingCode: '1',
      digits: '5550100001',
      trunkPrefix: '1',
    });
    expect(nationalNumber('+442079460958')).toEqual({
      callingCode: '44',
      digits: '2079460958',
      trunkPrefix: '0',
    });
    expect(nationalNumber('not a number')).toBeUndefined();
  });
});

describe('typedForms (what Salesforce is asked for)', () => {
  it('holds the ways people type a North American number', () => {
    const forms = typedForms('+15550100001');
    for (const form of [
      '(555) 010-0001',
      '555-010-0001',
      '555.010.0001',
      '555 010 0001',
      '5550100001',
      '+1 555 010 0001',
      '+1 (555) 010-0001',
      '1-555-010-0001',
      '+15550100001',
    ]) {
      expect(forms).toContain(form);
    }
  });

  it('elsewhere, the ungrouped forms only', () => {
    expect(typedForms('+442079460958')).toEqual([
      '+442079460958',
      '+44 2079460958',
      '00442079460958',
      '2079460958',
      '02079460958',
    ]);
  });
});

describe('isSameNumber (how a candidate is confirmed)', () => {
  it.each([
    ['555-010-0001', '+15550100001'],
    ['(555) 010-0001', '+15550100001'],
    ['+1 555 010 0001', '+15550100001'],
    ['020 7946 0958', '+442079460958'],
    ['+44 20 7946 0958', '+442079460958'],
    ['0044 20 7946 0958', '+442079460958'],
    ['001 555 010 0001', '+15550100001'],
    ['0114 496 0000', '+441144960000'],
  ])('%s is %s', (typed, e164) => {
    expect(isSameNumber(typed, e164)).toBe(true);
  });

  it('011 is the NANP way to dial out, read so only where it is', () => {
    expect(isSameNumber('011 44 20 7946 0958', '+442079460958', 'US')).toBe(true);
    // In the UK 0114 is Sheffield: never rewritten to "+4...".
    expect(isSameNumber('0114 496 0000', '+441144960000', 'GB')).toBe(true);
  });

  it('the same digits in another country are another person', () => {
    expect(isSameNumber('+44 20 7946 0958', '+12079460958')).toBe(false);
    expect(isSameNumber('2079460958', '+442079460958', 'US')).toBe(false);
    expect(isSameNumber('207-946-0958', '+12079460958', 'US')).toBe(true);
  });

  it('a number with an extension is someone at that switchboard, not the login', () => {
    expect(isSameNumber('020 7946 0958 ext. 12', '+442079460958')).toBe(false);
    expect(isSameNumber('(555) 010-0001 x12', '+15550100001')).toBe(false);
  });

  it('what is not text is no number', () => {
    expect(isSameNumber(null, '+15550100001')).toBe(false);
    expect(isSameNumber(5550100001, '+15550100001')).toBe(false);
  });
});

describe('AmbiguousMatch', () => {
  it('keeps a count that can be stored: a whole number from 2, or 2', () => {
    expect(new AmbiguousMatch(3).matches).toBe(3);
    expect(new AmbiguousMatch(Number.POSITIVE_INFINITY).matches).toBe(2);
    expect(new AmbiguousMatch(2.5).matches).toBe(2);
    expect(new AmbiguousMatch(1e9).matches).toBe(10_000);
  });
});
