import {
  ADA_LOVELACE,
  GRACE_HOPPER,
  SAMPLE_CONTACTS,
  UNKNOWN_PHONE,
} from '#stand-ins/demo-data.ts';

/**
 * Every secret and personal value the tests send. The log capture (log-capture.global.ts)
 * fails the run when any of them, in any common spelling, shows up in what the code logged.
 */
export const TEST_SECRETS = {
  signing: 'test-signing-secret-current-7f3a',
  previousSigning: 'test-signing-secret-previous-91bc',
  crmApiKey: 'test-crm-api-key-5d2e',
} as const;

export const TEST_PHONES = [
  ...SAMPLE_CONTACTS.map((c) => c.phone),
  UNKNOWN_PHONE,
  // The number of the phone-number parsing tables (test/shared/domain/phone.test.ts).
  '+15551234567',
] as const;

export const TEST_EMAILS = [ADA_LOVELACE.email, GRACE_HOPPER.email, 'nobody@example.com'] as const;

/** The spellings a leak could take: E.164, digits only, national digits. */
export function forbiddenStrings(): string[] {
  const phones = TEST_PHONES.flatMap((p) => {
    const digits = p.slice(1);
    return [p, digits, digits.startsWith('1') ? digits.slice(1) : digits.slice(2)];
  });
  return [...Object.values(TEST_SECRETS), ...phones, ...TEST_EMAILS];
}
