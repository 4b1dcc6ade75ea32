/**
 * The demo data convention, owned here: the people the demo CRM, the tests and the benchmarks
 * know, and the customers the local backfill generates. Every number is fictional: +1 555 01xx
 * and +44 7700 900xxx are set aside for drama; the generated +1 555 numbers are made up too.
 */

export interface SampleContact {
  /** The CRM's id of the contact. */
  readonly id: string;
  readonly name: string;
  /** E.164. */
  readonly phone: string;
  readonly email: string;
  readonly tier: string;
}

export const ADA_LOVELACE = {
  id: 'C-1001',
  name: 'Ada Lovelace',
  phone: '+15550100001',
  email: 'ada@example.com',
  tier: 'gold',
} as const satisfies SampleContact;

export const GRACE_HOPPER = {
  id: 'C-1002',
  name: 'Grace Hopper',
  phone: '+15550100002',
  email: 'grace@example.com',
  tier: 'silver',
} as const satisfies SampleContact;

export const ALAN_TURING = {
  id: 'C-1003',
  name: 'Alan Turing',
  phone: '+15550100003',
  email: 'alan@example.com',
  tier: 'bronze',
} as const satisfies SampleContact;

export const KATHERINE_JOHNSON = {
  id: 'C-1004',
  name: 'Katherine Johnson',
  phone: '+447700900123',
  email: 'katherine@example.com',
  tier: 'gold',
} as const satisfies SampleContact;

/** The sample contacts, in the order the demo CRM lists them. */
export const SAMPLE_CONTACTS: readonly SampleContact[] = [
  ADA_LOVELACE,
  GRACE_HOPPER,
  ALAN_TURING,
  KATHERINE_JOHNSON,
];

/** A fictional number of the sample range that no sample contact has: a CRM knows nobody. */
export const UNKNOWN_PHONE = '+15550100404';

/** A North American E.164 number spaced as people type it: `+1 555 010 0001`. */
export function typedPhone(e164: string): string {
  const match = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(e164);
  if (!match) throw new RangeError(`not a North American E.164 number: ${e164}`);
  return `+1 ${match[1]} ${match[2]} ${match[3]}`;
}

const GENERATED_MAX = 9_999_999;
const GENERATED_PHONE = /^\+1555(\d{7})$/;

/** The 7 digits of generated customer `i`, 0 to 9,999,999. */
function generatedDigits(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i > GENERATED_MAX) {
    throw new RangeError(`a generated customer is numbered 0 to ${GENERATED_MAX}, not ${i}`);
  }
  return String(i).padStart(7, '0');
}

/** Generated customer `i`'s phone number: `+1555` and 7 digits. */
export function generatedPhone(i: number): string {
  return `+1555${generatedDigits(i)}`;
}

/** Generated customer `i`'s CRM id: `C-` and 7 digits. */
export function generatedCrmId(i: number): string {
  return `C-${generatedDigits(i)}`;
}

/** Generated customer `i`'s name: `Customer ` and 7 digits. */
export function generatedName(i: number): string {
  return `Customer ${generatedDigits(i)}`;
}

/**
 * Which generated customer has `phone`, or `undefined` for a number not of that form. The sample
 * numbers are of that form too (Ada's is customer 100,001): the demo CRM looks them up first.
 */
export function generatedIndexOf(phone: string): number | undefined {
  const match = GENERATED_PHONE.exec(phone);
  return match ? Number(match[1]) : undefined;
}
