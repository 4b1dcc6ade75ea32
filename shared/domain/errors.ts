/** Error codes of the Sync API contract (docs/sync-api.md), with their HTTP status. */
export const errorStatus = {
  invalid_request: 400,
  invalid_phone_number: 400,
  invalid_signature: 401,
  signature_expired: 401,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  throttled: 429,
  internal_error: 500,
  crm_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/**
 * An error the caller may see. The message is written for a person and must never hold a
 * secret, a signature, a phone number, an email or anything the CRM sent.
 */
export class SyncApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Why, in a word, for the request's log line; never shown to the caller. */
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'SyncApiError';
    this.status = errorStatus[code];
  }
}
