/**
 * Names the CDK app and the Lambda code must agree on. Both import them from here, so the
 * infrastructure never imports Lambda code or an SDK adapter to learn a constant.
 */

/** CloudWatch namespace of the service's metrics (the dashboard and the alarms read them). */
export const METRICS_NAMESPACE = 'Auth0CrmSync';

/** The stamp table's key and TTL attribute: one item per user (shared/adapters/dynamodb-stamps.ts). */
export const STAMP_TABLE = { partitionKey: 'user_id', ttlAttribute: 'expires_at' } as const;

/** Receives of a backfill message before it goes to the dead-letter queue (the redrive policy). */
export const BACKFILL_MAX_RECEIVES = 8;
