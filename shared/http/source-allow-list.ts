import type middy from '@middy/core';
import { SyncApiError } from '#shared/domain/errors.ts';
import type { SourceNetworks } from '#shared/domain/source-networks.ts';
import type { HttpResult } from './http.ts';
import type { ParsedEvent } from './middleware.ts';

/**
 * ALLOWED_SOURCE_IPS, enforced by the handler: an API Gateway HTTP API has neither a resource
 * policy nor AWS WAF, so nothing in front of the Lambda can refuse a caller by address.
 *
 * It runs in the outer chain, before the router: a refused network is answered 403
 * `forbidden_source` before its signature is checked or its body read, whatever the path. So
 * `/v1/health` is behind the list too: a health route open to the world would tell any scanner
 * the service is there, and an uptime monitor's network is one more entry in the list.
 *
 * The address is `requestContext.http.sourceIp`, which API Gateway sets from the TCP peer
 * (an `X-Forwarded-For` header is the caller's to write, so it is never read). It is not
 * logged: the API Gateway access log has it beside the request id, which the log line carries.
 * No list set: every network may call, as before.
 */
export function sourceAllowList(
  allowed: SourceNetworks | undefined,
): middy.MiddlewareObj<ParsedEvent, HttpResult> {
  // middy refuses an empty middleware object; with no list, every request passes.
  if (allowed === undefined) return { before: () => {} };
  return {
    before: (request) => {
      const sourceIp = request.event.requestContext?.http?.sourceIp ?? '';
      if (!allowed.allows(sourceIp)) {
        throw new SyncApiError(
          'forbidden_source',
          'requests from this network are not allowed; the service operator lists the allowed ' +
            'networks in ALLOWED_SOURCE_IPS',
        );
      }
    },
  };
}
