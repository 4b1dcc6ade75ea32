import { SyncApiError } from './errors.ts';
import { type CountryCode, normalisePhoneNumber } from './phone.ts';

export type MatchKeyKind = 'phone' | 'email';

/** What the CRM is asked with: exactly one key, already normalised. */
export type MatchKey =
  | { readonly kind: 'phone'; readonly e164: string }
  | { readonly kind: 'email'; readonly email: string };

export interface SyncRequest {
  readonly userId: string;
  readonly matchKey: MatchKey;
  readonly force: boolean;
  /** When the request reached the API (epoch ms): the caller's budget runs from then. */
  readonly receivedAt?: number;
}

export interface RequestPolicy {
  /** Keys the deployment matches CRM records on, in order of preference. */
  readonly matchKeys: readonly MatchKeyKind[];
  readonly defaultPhoneCountry?: CountryCode | undefined;
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

/**
 * Turns a parsed JSON body into a sync request, or throws the contract's 400. Unknown fields
 * are ignored; null counts as absent because Auth0 profiles often carry null for these.
 */
export function readSyncRequest(body: unknown, policy: RequestPolicy): SyncRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new SyncApiError('invalid_request', 'the body must be a JSON object');
  }
  const input = body as Record<string, unknown>;
  const userId = input.user_id;
  if (!isUserId(userId)) {
    throw new SyncApiError(
      'invalid_request',
      'user_id must be an Auth0 user id: 1 to 256 characters of well-formed text, no control characters, not starting with #',
    );
  }
  const phone = optionalString(input, 'phone_number');
  const email = optionalString(input, 'email');
  const force = input.force ?? false;
  if (typeof force !== 'boolean') {
    throw new SyncApiError('invalid_request', 'force must be a boolean');
  }

  let e164: string | undefined;
  if (phone !== undefined) {
    const parsed = normalisePhoneNumber(phone, policy.defaultPhoneCountry);
    if (!parsed.ok) {
      throw new SyncApiError(
        'invalid_phone_number',
        'phone_number cannot be read as a phone number; send it in international format, e.g. +1 555 010 0001',
      );
    }
    e164 = parsed.e164;
  }
  let normalisedEmail: string | undefined;
  if (email !== undefined) {
    normalisedEmail = email.trim().toLowerCase();
    if (!EMAIL.test(normalisedEmail)) {
      throw new SyncApiError('invalid_request', 'email is not an email address');
    }
  }

  for (const kind of policy.matchKeys) {
    if (kind === 'phone' && e164 !== undefined) return { userId, matchKey: { kind, e164 }, force };
    if (kind === 'email' && normalisedEmail !== undefined) {
      return { userId, matchKey: { kind, email: normalisedEmail }, force };
    }
  }
  const wanted = policy.matchKeys.map((k) => (k === 'phone' ? 'phone_number' : 'email'));
  throw new SyncApiError(
    'invalid_request',
    `the request needs ${wanted.join(' or ')} to find the user in the CRM`,
  );
}

/** C0 controls, DEL and C1 controls: never part of an Auth0 user id. */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

/**
 * Whether a value can be an Auth0 user id. Auth0 ids are well-formed text: a lone surrogate
 * (`"sms|x\ud800"`) would be turned into U+FFFD on its way to DynamoDB, so two different ids
 * would share one stamp. `#` starts the keys of the service's own items (used signatures).
 */
export function isUserId(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length >= 1 &&
    value.length <= 256 &&
    value.isWellFormed() &&
    !hasControlCharacter(value) &&
    !value.startsWith('#')
  );
}

function optionalString(input: Record<string, unknown>, name: string): string | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new SyncApiError('invalid_request', `${name} must be a string`);
  }
  if (!value.isWellFormed()) {
    throw new SyncApiError('invalid_request', `${name} must be well-formed text`);
  }
  return value;
}
