/**
 * Names the CDK app and the Lambda code must agree on. Both import them from here, so the
 * infrastructure never imports Lambda code or an SDK adapter to learn a constant.
 */

/** CloudWatch namespace of the service's metrics (the dashboard and the alarms read them). */
export const METRICS_NAMESPACE = 'Auth0CrmSync';

/**
 * The namespace of one deployed stack's metrics. Two stages in one account must not share one:
 * staging's refused signatures or CRM failures would set off production's alarms. The stack
 * gives its functions this name as METRICS_NAMESPACE; without it (npm start, tests) the
 * metrics go to METRICS_NAMESPACE.
 */
export function metricsNamespace(stackName: string): string {
  return `${METRICS_NAMESPACE}/${stackName}`;
}

/**
 * The stamp table's key, TTL attribute and index: one item per user
 * (shared/adapters/dynamodb-stamps.ts). The index finds the stamps a CRM change event concerns
 * (shared/adapters/dynamodb-crm-events.ts) by `change_key`: `crm#<CRM id>` for a stamp linked
 * to a contact, `key#<match-key hash>` for a not_found one (`changeKey`). One index, not one per
 * kind: DynamoDB (and so CloudFormation) creates one index per table update, and a deployed
 * table must gain it in one deploy. Sparse (only items with the attribute), keys only.
 */
export const STAMP_TABLE = {
  partitionKey: 'user_id',
  ttlAttribute: 'expires_at',
  changeIndex: { indexName: 'by-change-key', partitionKey: 'change_key' },
} as const;

/**
 * A stamp's `change_key`: its CRM id when it links to a contact, else the hash of the match key
 * it was not found for; none without either, or for an id too long to index (over 1,024 bytes,
 * half of DynamoDB's 2,048-byte limit on a partition key; no CRM's ids come near).
 */
export function changeKey(
  link: { readonly crmId: string } | { readonly matchHash: string },
): string | undefined {
  const key = 'crmId' in link ? `crm#${link.crmId}` : `key#${link.matchHash}`;
  return Buffer.byteLength(key) <= 1_024 ? key : undefined;
}

/**
 * The stamp table's key of the backfill's run lock, the one item that says which run may export
 * (infra/constructs/backfill-run-lock.ts). No Auth0 user id starts with `#` (sync-request.ts), so
 * it never meets a user's stamp.
 */
export const BACKFILL_RUN_LOCK_KEY = '#backfill#run';

/**
 * The key prefix of the handled CRM change events' items in the stamp table
 * (shared/adapters/dynamodb-crm-events.ts); the events function may write nothing else whole.
 */
export const CRM_EVENT_KEY_PREFIX = '#crm-event#';

/** Receives of a backfill message before it goes to the dead-letter queue (the redrive policy). */
export const BACKFILL_MAX_RECEIVES = 8;

/**
 * Errors of the backfill's orchestrator steps that a retry cannot mend (the export job failed or
 * was given up; the M2M grant lacks a scope): the state machine fails the run at once. Each is
 * the `name` of an error class (ExportFailedError, MissingScopeError): a Node.js Lambda reports
 * it as `errorType`, which Step Functions matches against `ErrorEquals` (AWS Lambda developer
 * guide, "Node.js function errors"; Step Functions "Handling errors").
 */
export const BACKFILL_NOT_RETRIED_ERRORS = ['ExportFailedError', 'MissingScopeError'];
