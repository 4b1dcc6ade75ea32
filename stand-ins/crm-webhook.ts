import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { sign } from '#shared/domain/signature.ts';
import { httpApiEvent } from './api-gateway-events.ts';

/**
 * What a CRM's webhook sends, as API Gateway hands it to the CRM events function: a
 * `POST /v1/crm-events` of `{"events": [...]}`, signed with `X-Crm-Signature` over
 * "<t>.<body>" (docs/sync-api.md). `timestamp` (UNIX seconds) defaults to now.
 */
export function crmWebhookEvent(
  secret: string,
  events: readonly unknown[],
  options: { readonly timestamp?: number } = {},
): APIGatewayProxyEventV2 {
  const body = JSON.stringify({ events });
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return httpApiEvent({
    method: 'POST',
    target: '/v1/crm-events',
    headers: {
      'content-type': 'application/json',
      'x-crm-signature': sign(secret, timestamp, body),
    },
    body,
  });
}
