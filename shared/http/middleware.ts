import type { Logger } from '@aws-lambda-powertools/logger';
import type middy from '@middy/core';
import { SyncApiError } from '#shared/domain/errors.ts';
import { verifySignature } from '#shared/domain/signature.ts';
import { TokenBucket } from '#shared/domain/token-bucket.ts';
import { errorBody, errorStatus, type HttpEvent, type HttpResult, json, rawBody } from './http.ts';
import type { RequestTrace } from './request-log.ts';

/**
 * The event as the middlewares pass it on: the body parsed, once, from the verified bytes
 * (`jsonBody`), the path's last segment for a route ending in a parameter (`router`), and what
 * the request's log line will say (`requestLog`).
 */
export type ParsedEvent = HttpEvent & {
  parsedBody?: unknown;
  pathParameter?: string;
  trace?: RequestTrace;
};
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

/**
 * Verifies the signature header (`X-Sync-Signature`; `X-Crm-Signature` of CRM change events)
 * before anything reads the body (docs/sync-api.md).
 */
export function signedRequest(
  secrets: () => Promise<readonly string[]>,
  clock: () => number,
  headerName = 'x-sync-signature',
): Middleware {
  return {
    before: async (request) => {
      const header = request.event.headers?.[headerName];
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

/** A route whose request is fully named by its path and signature: a body is refused. */
export function noBody(route: string): Middleware {
  return {
    before: (request) => {
      if (rawBody(request.event).length > 0) {
        throw new SyncApiError('invalid_request', `${route} takes no body`);
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
type Methods = Partial<Record<string, Route>>;

/** A route template's trailing parameter, e.g. `{user_id}` in `/v1/users/{user_id}`. */
const TRAILING_PARAMETER = /\{[a-z_]+\}$/;

/**
 * Routing with the contract's 404 and 405: exact paths, and templates ending in one parameter
 * (`/v1/users/{user_id}`), which takes the rest of the path, slashes included, as
 * `pathParameter`. The path is used as API Gateway hands it over: an HTTP API has already
 * percent-decoded `rawPath` (stand-ins/api-gateway-events.ts), so it is not decoded again —
 * that would turn an id's literal `%7C` into `|`.
 */
export function router(routes: Record<string, Methods>): Route {
  const templates = Object.keys(routes)
    .filter((template) => TRAILING_PARAMETER.test(template))
    .map((template) => ({ template, prefix: template.replace(TRAILING_PARAMETER, '') }));
  const find = (path: string) => {
    const exact =
      Object.hasOwn(routes, path) && !TRAILING_PARAMETER.test(path) ? routes[path] : undefined;
    if (exact !== undefined) return { template: path, methods: exact };
    const match = templates.find(({ prefix }) => path.startsWith(prefix));
    if (match === undefined) return undefined;
    const methods = routes[match.template] as Methods;
    return { template: match.template, methods, parameter: path.slice(match.prefix.length) };
  };
  const served = Object.entries(routes)
    .flatMap(([template, methods]) => Object.keys(methods).map((m) => `${m} ${template}`))
    .join(', ');
  return (event, context) => {
    const found = find(event.rawPath);
    if (found === undefined) {
      // Not echoed: a path is whatever the caller typed, a phone number included.
      throw new SyncApiError('not_found', `no such route; the API serves ${served}`);
    }
    const method = event.requestContext.http.method.toUpperCase();
    // Only a route's template is named in the log line, never the path the caller typed.
    if (event.trace) event.trace.route = found.template;
    const route = found.methods[method];
    if (route === undefined) {
      throw new SyncApiError(
        'method_not_allowed',
        `use ${Object.keys(found.methods).join(' or ')} on ${found.template}`,
      );
    }
    if (found.parameter !== undefined) event.pathParameter = found.parameter;
    return route(event, context);
  };
}

export { json };
