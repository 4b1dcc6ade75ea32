import type { ClaimValue } from './auth0-types.ts';

/** What the sync API stores at app_metadata.crm (sync-response.ts); checked, never trusted. */
export interface CrmMetadata {
  readonly id: string | null;
  readonly synced_at: string;
  readonly fresh_until: string;
  readonly namespace: string;
  readonly fields: Record<string, ClaimValue>;
}

/**
 * When the Action rewrites app_metadata.crm (secret METADATA_WRITES). Each write counts against
 * the tenant's Write Users rate limit (docs-v2 manage-user-metadata.mdx), so the default writes
 * only what a person or an application could notice: the CRM link, the namespace, a field.
 * - `on_change`: only when one of those changed. Unchanged data keeps its old `fresh_until`, so
 *   after its first sync day a user's logins ask the sync API, which answers from its stamp.
 * - `daily`: whenever the stored copy differs at all, dates included: the first login of every
 *   sync day writes (the behaviour before METADATA_WRITES existed), and the later logins of that
 *   day need no call.
 */
export type MetadataWrites = 'on_change' | 'daily';

export const DEFAULT_METADATA_WRITES: MetadataWrites = 'on_change';

/** The policy a secret asks for; `ignored` when its value is not one (the default applies). */
export function readMetadataWrites(value: string | undefined): {
  policy: MetadataWrites;
  ignored: boolean;
} {
  const asked = value?.trim().toLowerCase();
  if (asked === 'on_change' || asked === 'daily') return { policy: asked, ignored: false };
  return { policy: DEFAULT_METADATA_WRITES, ignored: asked !== undefined && asked !== '' };
}

/** Whether this login should call api.user.setAppMetadata('crm', answer). */
export function shouldWriteMetadata(
  policy: MetadataWrites,
  stored: unknown,
  answer: CrmMetadata,
): boolean {
  if (policy === 'daily') return !sameJson(answer, stored);
  const known = readCrmMetadata(stored);
  const next = readCrmMetadata(answer) ?? answer;
  return known === undefined || linkOf(known) !== linkOf(next);
}

/**
 * The part of the metadata a token or an application sees: the CRM record it links to, the
 * claim namespace and the mapped fields, not the dates. The backfill compares the same three
 * (`linkOf` in shared/domain/backfill.ts); the Action stays dependency-free, hence its own copy.
 */
function linkOf(crm: CrmMetadata): string {
  return canonical([crm.id, crm.namespace, crm.fields]);
}

/** The same claims the sync API returned when it wrote this metadata. */
export function claimsFrom(crm: CrmMetadata): Record<string, ClaimValue> {
  const claims: Record<string, ClaimValue> = {};
  for (const [name, value] of Object.entries(crm.fields)) claims[`${crm.namespace}${name}`] = value;
  return claims;
}

export function readCrmMetadata(value: unknown): CrmMetadata | undefined {
  if (!isObject(value)) return;
  const { id, synced_at, fresh_until, namespace, fields } = value;
  if (id !== null && typeof id !== 'string') return;
  if (typeof synced_at !== 'string' || typeof fresh_until !== 'string') return;
  if (typeof namespace !== 'string' || !isObject(fields)) return;
  const scalars: Record<string, ClaimValue> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') scalars[k] = v;
  }
  return { id, synced_at, fresh_until, namespace, fields: scalars };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Key order does not matter to Auth0, so compare canonical forms. */
function sameJson(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}
