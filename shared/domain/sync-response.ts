import { type ClaimFields, toClaims } from './claims.ts';
import type { SyncOutcome, SyncStatus } from './sync.ts';

/** What the Action stores at `app_metadata.crm`: enough to rebuild the same claims offline. */
export interface CrmAppMetadata {
  readonly id: string | null;
  readonly synced_at: string;
  readonly fresh_until: string;
  /** Claim namespace the fields were issued under. */
  readonly namespace: string;
  /** Mapped CRM fields by short claim name; Auth0 forbids '.' in metadata keys, so no URLs here. */
  readonly fields: ClaimFields;
}

/** The 200 body of `POST /v1/sync` (docs/sync-api.md). */
export interface SyncResponse {
  readonly user_id: string;
  readonly status: SyncStatus;
  readonly crm_id: string | null;
  readonly synced_at: string;
  readonly fresh_until: string;
  readonly claims: ClaimFields;
  readonly app_metadata: CrmAppMetadata;
}

export function toSyncResponse(
  userId: string,
  outcome: SyncOutcome,
  namespace: string,
): SyncResponse {
  const syncedAt = new Date(outcome.syncedAt).toISOString();
  const freshUntil = new Date(outcome.freshUntil).toISOString();
  return {
    user_id: userId,
    status: outcome.status,
    crm_id: outcome.crmId,
    synced_at: syncedAt,
    fresh_until: freshUntil,
    claims: toClaims(namespace, outcome.fields),
    app_metadata: {
      id: outcome.crmId,
      synced_at: syncedAt,
      fresh_until: freshUntil,
      namespace,
      fields: outcome.fields,
    },
  };
}
