import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { CrmEventProcessor } from '#shared/domain/crm-event-processing.ts';
import { MAX_EVENTS_BODY_BYTES, readCrmEvents } from '#shared/domain/crm-events.ts';
import type { RequestPolicy } from '#shared/domain/sync-request.ts';
import { type HttpResult, json } from '#shared/http/http.ts';
import {
  bodyLimit,
  contractErrors,
  correlationId,
  jsonBody,
  type ParsedEvent,
  router,
  signedRequest,
} from '#shared/http/middleware.ts';
import { type RequestTrace, requestLog } from '#shared/http/request-log.ts';

export interface CrmEventsApiDependencies {
  readonly processor: CrmEventProcessor;
  /** CRM_WEBHOOK_SECRET: current first, then the previous one during a rotation. */
  readonly webhookSecrets: () => Promise<readonly string[]>;
  readonly requestPolicy: RequestPolicy;
  readonly logger: Logger;
  readonly clock?: () => number;
}

/** The metric counting this API's requests by outcome (the sync API's is `Requests`). */
export const CRM_EVENT_REQUESTS_METRIC = 'CrmEventRequests';

/**
 * POST /v1/crm-events (docs/sync-api.md) as one Lambda handler for API Gateway HTTP API payload
 * v2: the CRM's change events, signed with X-Crm-Signature. The body's size and signature are
 * checked before it is read; the events are handled before the answer, so a 202 means every
 * affected stamp is marked and every affected user queued. A fault answers 500 with nothing
 * recorded for the events it stopped: the CRM's retry handles them (at-least-once).
 */
export function createCrmEventsApi(deps: CrmEventsApiDependencies) {
  const { logger, processor, requestPolicy } = deps;
  const clock = deps.clock ?? Date.now;

  const events = middy<ParsedEvent, HttpResult>()
    .use(bodyLimit(MAX_EVENTS_BODY_BYTES))
    .use(signedRequest(deps.webhookSecrets, clock, 'x-crm-signature'))
    .use(jsonBody())
    .handler(async (event) => {
      const trace = event.trace as RequestTrace;
      const read = readCrmEvents(event.parsedBody, requestPolicy);
      const counts = await processor.process(read);
      trace.outcome = 'events_handled';
      trace.counts = {
        CrmEventsAccepted: { field: 'accepted', value: counts.accepted },
        CrmEventsDuplicate: { field: 'duplicates', value: counts.duplicates },
        CrmEventsIgnored: { field: 'ignored', value: counts.ignored },
        CrmEventUsersInvalidated: { field: 'users_invalidated', value: counts.usersInvalidated },
        CrmEventUsersQueued: { field: 'users_queued', value: counts.usersQueued },
        CrmEventKeysTruncated: { field: 'keys_truncated', value: counts.keysTruncated },
      };
      return json(202, {
        accepted: counts.accepted,
        duplicates: counts.duplicates,
        ignored: counts.ignored,
      });
    });

  return middy<ParsedEvent, HttpResult>()
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(requestLog(logger, clock, CRM_EVENT_REQUESTS_METRIC))
    .use(correlationId(logger))
    .use(contractErrors())
    .handler(router({ [CRM_EVENTS_ROUTE]: { POST: events } }));
}

export const CRM_EVENTS_ROUTE = '/v1/crm-events';
