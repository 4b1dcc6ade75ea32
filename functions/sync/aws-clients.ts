import { KEEP_ALIVE_AGENTS } from '#shared/adapters/bounded-http.ts';

/**
 * Options of the sync Lambda's AWS SDK clients. The SDK's defaults have no request timeout: a
 * stalled connection to DynamoDB or Secrets Manager would hold the login until the Lambda's
 * own timeout. Bounded, each call fails in about a second at worst, and the service rides the
 * fault out (an unreadable stamp: the CRM answers without one; a secret: the last value read).
 * Both clients and the CRM share one pool of kept-alive connections (bounded-http.ts). So a
 * client's `destroy()` (which destroys the agents it was given) would drop the CRM's
 * connections too: the Lambda never calls it; anything that does should use its own options.
 */
export const LOGIN_PATH_AWS_CLIENT_OPTIONS = {
  maxAttempts: 2,
  requestHandler: {
    connectionTimeout: 250,
    requestTimeout: 400,
    throwOnRequestTimeout: true,
    httpAgent: KEEP_ALIVE_AGENTS.http,
    httpsAgent: KEEP_ALIVE_AGENTS.https,
  },
} as const;
