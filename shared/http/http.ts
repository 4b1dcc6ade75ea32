import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ErrorCode } from '#shared/domain/errors.ts';

export type HttpEvent = APIGatewayProxyEventV2;
export type HttpResult = APIGatewayProxyStructuredResultV2 & { statusCode: number };

export function json(statusCode: number, body: unknown): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

/** The HTTP status of each error code of the contract (docs/sync-api.md). */
export const errorStatus: Readonly<Record<ErrorCode, number>> = {
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
  user_not_found: 404,
  forbidden_source: 403,
};

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

/** The body as the bytes the caller signed: API Gateway base64-encodes what it deems binary. */
export function rawBody(event: HttpEvent): Buffer {
  if (event.body === undefined) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}
