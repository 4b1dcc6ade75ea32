/**
 * Error codes of the Sync API contract (docs/sync-api.md). The HTTP status each one is answered
 * with belongs to the HTTP adapter (shared/http/http.ts), not to the domain.
 */
export const ERROR_CODES = [
  'invalid_request',
  'invalid_phone_number',
  'invalid_signature',
  'signature_expired',
  'not_found',
  'method_not_allowed',
  'payload_too_large',
  'unsupported_media_type',
  'throttled',
  'internal_error',
  'crm_unavailable',
  'user_not_found',
  'forbidden_source',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * An error the caller may see. The message is written for a person and must never hold a
 * secret, a signature, a phone number, an email or anything the CRM sent.
 */
export class SyncApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Why, in a word, for the request's log line; never shown to the caller. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'SyncApiError';
  }
}
