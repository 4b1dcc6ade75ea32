import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { AbsorbedFault, SyncService } from '#shared/domain/sync.ts';
import { type RequestPolicy, readSyncRequest } from '#shared/domain/sync-request.ts';
import { toSyncResponse } from '#shared/domain/sync-response.ts';
import type { HttpResult } from './http.ts';
import { json } from './http.ts';
import { embeddedMetrics } from './metrics.ts';
import {
  bodyLimit,
  contractErrors,
  correlationId,
  jsonBody,
  MAX_BODY_BYTES,
  type ParsedEvent,
  router,
  signedRequest,
  throttle,
} from './middleware.ts';

export interface SyncApiDependencies {
  readonly service: SyncService;
  readonly signingSecrets: () => Promise<readonly string[]>;
  readonly requestPolicy: RequestPolicy;
  readonly claimNamespace: string;
  readonly logger: Logger;
  readonly rateLimit: { readonly perSecond: number; readonly burst: number };
  readonly clock?: () => number;
}

/** The Sync API v1 (sync-api.md) as one Lambda handler for API Gateway HTTP API payload v2. */
export function createSyncApi(deps: SyncApiDependencies) {
  const { logger, service, requestPolicy, claimNamespace } = deps;
  const clock = deps.clock ?? Date.now;

  // Order matters: nothing reads the body before its size and signature have been checked.
  const sync = middy<ParsedEvent, HttpResult>()
    .use(throttle(deps.rateLimit.perSecond, deps.rateLimit.burst, clock))
    .use(bodyLimit(MAX_BODY_BYTES))
    .use(signedRequest(deps.signingSecrets, clock))
    .use(jsonBody())
    .handler(async (event) => {
      const request = readSyncRequest(event.parsedBody, requestPolicy);
      const outcome = await service.sync(request);
      // user_id is Auth0's opaque id; phone numbers and emails never reach a log line.
      logger.info('sync', {
        user_id: request.userId,
        status: outcome.status,
        match_key: request.matchKey.kind,
        forced: request.force,
        ...(outcome.crmMs === undefined ? {} : { crm_ms: outcome.crmMs }),
        ...embeddedMetrics(
          { Status: outcome.status },
          {
            Logins: { value: 1, unit: 'Count' },
            ...(outcome.crmMs === undefined
              ? {}
              : { CrmLatency: { value: outcome.crmMs, unit: 'Milliseconds' } }),
          },
        ),
      });
      return json(200, toSyncResponse(request.userId, outcome, claimNamespace));
    });

  const health = async () => json(200, { status: 'ok' });

  return middy<ParsedEvent, HttpResult>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(correlationId(logger))
    .use(contractErrors(logger))
    .handler(router({ '/v1/sync': { POST: sync }, '/v1/health': { GET: health } }));
}

/** Logs a fault the service absorbed by kind and error name only: never a value. */
export function logAbsorbedFault(logger: Logger) {
  return ({ operation, error }: AbsorbedFault) => {
    const name = error instanceof Error ? error.name : typeof error;
    const reason = (error as { reason?: unknown })?.reason;
    logger.warn('absorbed fault', {
      operation,
      fault: name,
      ...(reason ? { reason } : {}),
      ...embeddedMetrics(
        { Operation: operation },
        { [operation === 'crm' ? 'CrmFailures' : 'AbsorbedFaults']: { value: 1, unit: 'Count' } },
      ),
    });
  };
}
