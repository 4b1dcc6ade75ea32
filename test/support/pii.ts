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
  '+15550100001',
  '+15550100002',
  '+15550100003',
  '+15551234567',
  '+447700900123',
  '+15550100404',
] as const;

export const TEST_EMAILS = ['ada@example.com', 'grace@example.com', 'nobody@example.com'] as const;

/** The spellings a leak could take: E.164, digits only, national digits. */
export function forbiddenStrings(): string[] {
  const phones = TEST_PHONES.flatMap((p) => {
    const digits = p.slice(1);
    return [p, digits, digits.startsWith('1') ? digits.slice(1) : digits.slice(2)];
  });
  return [...Object.values(TEST_SECRETS), ...phones, ...TEST_EMAILS];
}
