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

/** A request read from input, or why it cannot be one (the contract's 400). */
type ReadResult =
  | { readonly ok: true; readonly request: SyncRequest }
  | {
      readonly ok: false;
      readonly code: 'invalid_request' | 'invalid_phone_number';
      readonly message: string;
    };

/**
 * Turns a parsed JSON body into a sync request, or throws the contract's 400. Unknown fields
 * are ignored; null counts as absent because Auth0 profiles often carry null for these.
 */
export function readSyncRequest(body: unknown, policy: RequestPolicy): SyncRequest {
  const read = tryReadSyncRequest(body, policy);
  if (!read.ok) throw new SyncApiError(read.code, read.message);
  return read.request;
}

/**
 * The request that syncs a user as the tenant lists them, or undefined when the profile offers
 * nothing the CRM could be asked with (no phone number or email the deployment matches on, or
 * one that cannot be read): the backfill passes such users over.
 */
export function profileSyncRequest(
  user: {
    readonly user_id: string;
    readonly phone_number?: string | undefined;
    readonly email?: string | undefined;
  },
  policy: RequestPolicy,
): SyncRequest | undefined {
  const { user_id, phone_number, email } = user;
  const read = tryReadSyncRequest({ user_id, phone_number, email }, policy);
  return read.ok ? read.request : undefined;
}

function tryReadSyncRequest(body: unknown, policy: RequestPolicy): ReadResult {
  const invalid = (message: string): ReadResult => ({
    ok: false,
    code: 'invalid_request',
    message,
  });
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalid('the body must be a JSON object');
  }
  const input = body as Record<string, unknown>;
  const userId = input.user_id;
  if (!isUserId(userId)) {
    return invalid(
      'user_id must be an Auth0 user id: 1 to 256 characters of well-formed text, no control characters, not starting with #',
    );
  }
  const phone = optionalString(input, 'phone_number');
  if (typeof phone === 'object') return invalid(phone.problem);
  const email = optionalString(input, 'email');
  if (typeof email === 'object') return invalid(email.problem);
  const force = input.force ?? false;
  if (typeof force !== 'boolean') return invalid('force must be a boolean');

  let e164: string | undefined;
  if (phone !== undefined) {
    const parsed = normalisePhoneNumber(phone, policy.defaultPhoneCountry);
    if (!parsed.ok) {
      return {
        ok: false,
        code: 'invalid_phone_number',
        message:
          'phone_number cannot be read as a phone number; send it in international format, e.g. +1 555 010 0001',
      };
    }
    e164 = parsed.e164;
  }
  let normalisedEmail: string | undefined;
  if (email !== undefined) {
    normalisedEmail = normaliseEmail(email);
    if (normalisedEmail === undefined) return invalid('email is not an email address');
  }

  for (const kind of policy.matchKeys) {
    if (kind === 'phone' && e164 !== undefined) {
      return { ok: true, request: { userId, matchKey: { kind, e164 }, force } };
    }
    if (kind === 'email' && normalisedEmail !== undefined) {
      return { ok: true, request: { userId, matchKey: { kind, email: normalisedEmail }, force } };
    }
  }
  const wanted = policy.matchKeys.map((k) => (k === 'phone' ? 'phone_number' : 'email'));
  return invalid(`the request needs ${wanted.join(' or ')} to find the user in the CRM`);
}

/** An email as the CRM is asked with it (trimmed, lower case), or undefined if it is none. */
export function normaliseEmail(email: string): string | undefined {
  const normalised = email.trim().toLowerCase();
  return EMAIL.test(normalised) ? normalised : undefined;
}

/** C0 controls, DEL and C1 controls: never part of an Auth0 user id. */
export function hasControlCharacter(value: string): boolean {
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

/** The string, undefined when absent, or what is wrong with it. */
function optionalString(
  input: Record<string, unknown>,
  name: string,
): string | undefined | { readonly problem: string } {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') return { problem: `${name} must be a string` };
  if (!value.isWellFormed()) return { problem: `${name} must be well-formed text` };
  return value;
}
