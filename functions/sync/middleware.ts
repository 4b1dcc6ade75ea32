import type { Logger } from '@aws-lambda-powertools/logger';
import type middy from '@middy/core';
import { SyncApiError } from '#shared/domain/errors.ts';
import { verifySignature } from '#shared/domain/signature.ts';
import { TokenBucket } from '#shared/domain/token-bucket.ts';
import { errorBody, errorStatus, type HttpEvent, type HttpResult, json, rawBody } from './http.ts';
import type { RequestTrace } from './request-log.ts';

/**
 * The event as the middlewares pass it on: the body parsed, once, from the verified bytes
 * (`jsonBody`), and what the request's log line will say (`requestLog`).
 */
export type ParsedEvent = HttpEvent & { parsedBody?: unknown; trace?: RequestTrace };
type Middleware = middy.MiddlewareObj<ParsedEvent, HttpResult>;

/**
 * Turns every error into the contract's JSON error. A SyncApiError carries its own status and
 * message; anything else is a fault of ours, answered without detail (the request's log line
 * names it).
 */
export function contractErrors(): Middleware {
  return {
    onError: (request) => {
      const error = request.error;
      if (error instanceof SyncApiError) {
        request.response = json(errorStatus[error.code], errorBody(error.code, error.message));
        return;
      }
      request.response = json(500, errorBody('internal_error', 'the service failed; try again'));
    },
  };
}

/** Echoes the API Gateway request id, which every log line of the request carries too. */
export function correlationId(logger: Logger): Middleware {
  const echo: Middleware['after'] = (request) => {
    const id = request.event.requestContext?.requestId;
    if (request.response && id) {
      request.response.headers = { ...request.response.headers, 'x-request-id': id };
    }
  };
  return {
    before: (request) => {
      logger.setCorrelationId(request.event.requestContext?.requestId);
    },
    after: echo,
    onError: echo,
  };
}

/**
 * A token bucket per instance: a cheap guard for the CRM behind us. The deployed API also
 * throttles at the stage; this one answers in the contract's own words.
 */
export function throttle(perSecond: number, burst: number, clock: () => number): Middleware {
  // 0 turns the guard off (the default: the stage's throttling is the deployed limit).
  const bucket = perSecond > 0 ? new TokenBucket(perSecond, burst, clock()) : undefined;
  return {
    before: () => {
      if (bucket && !bucket.tryTake(clock())) {
        throw new SyncApiError('throttled', 'too many requests; retry in a moment');
      }
    },
  };
}

export const MAX_BODY_BYTES = 16 * 1024;

export function bodyLimit(maxBytes: number): Middleware {
  return {
    before: (request) => {
      const body = request.event.body;
      if (body === undefined) return;
      // Base64 inflates by 4/3, so the decoded size is only computed when it could matter.
      const bytes = request.event.isBase64Encoded
        ? Buffer.byteLength(body, 'base64')
        : Buffer.byteLength(body, 'utf8');
      if (bytes > maxBytes) {
        throw new SyncApiError('payload_too_large', `the body must be at most ${maxBytes} bytes`);
      }
    },
  };
}

/** Verifies `X-Sync-Signature` before anything reads the body (docs/sync-api.md). */
export function signedRequest(
  secrets: () => Promise<readonly string[]>,
  clock: () => number,
): Middleware {
  return {
    before: async (request) => {
      const header = request.event.headers?.['x-sync-signature'];
      const check = verifySignature(
        header,
        rawBody(request.event),
        await secrets(),
        Math.floor(clock() / 1000),
      );
      if (check === 'invalid_signature') {
        throw new SyncApiError('invalid_signature', 'the request signature is missing or wrong');
      }
      if (check === 'signature_expired') {
        throw new SyncApiError(
          'signature_expired',
          'the request signature has expired; sign each request with the current time',
        );
      }
    },
  };
}

export function jsonBody(): Middleware {
  return {
    before: (request) => {
      const type = request.event.headers?.['content-type'] ?? '';
      const mediaType = type.split(';', 1)[0]?.trim().toLowerCase();
      if (mediaType !== 'application/json') {
        throw new SyncApiError('unsupported_media_type', 'send the body as application/json');
      }
      try {
        request.event.parsedBody = JSON.parse(rawBody(request.event).toString('utf8'));
      } catch {
        // The parser's message quotes the body, which may hold a phone number: never pass it on.
        throw new SyncApiError('invalid_request', 'the body is not valid JSON');
      }
    },
  };
}

type Route = (event: ParsedEvent, context: import('aws-lambda').Context) => Promise<HttpResult>;

/** Exact-path routing with the contract's 404 and 405. */
export function router(routes: Record<string, Partial<Record<string, Route>>>): Route {
  return (event, context) => {
    const methods = routes[event.rawPath];
    if (methods === undefined) {
      // Not echoed: a path is whatever the caller typed, a phone number included.
      throw new SyncApiError(
        'not_found',
        'no such route; the API serves POST /v1/sync and GET /v1/health',
      );
    }
    const method = event.requestContext.http.method.toUpperCase();
    // Only a known path is named in the log line: an unknown one is whatever the caller typed.
    if (event.trace) event.trace.route = event.rawPath;
    const route = methods[method];
    if (route === undefined) {
      throw new SyncApiError(
        'method_not_allowed',
        `use ${Object.keys(methods).join(' or ')} on ${event.rawPath}`,
      );
    }
    return route(event, context);
  };
}

export { json };
