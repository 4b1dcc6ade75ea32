import type { ClaimMapping } from './claims.ts';

/**
 * The size of what a mapping can make the service store at `app_metadata.crm`, at its worst,
 * and the cap it must keep to. Auth0 announces a 10 KB limit on a whole user profile (writes
 * above it "succeed for now, but may start to fail": auth0/docs-v2
 * main/docs/manage-users/user-accounts/metadata/metadata-fields-data.mdx, "Size limits and
 * storage") and lets Actions save up to 32 kB of app_metadata per session
 * (main/docs/customize/actions/limitations.mdx). The profile also holds the identities, the
 * user's own metadata and other applications' data, so ours is held well inside: 4 KB.
 */
export const MAX_CRM_METADATA_BYTES = 4_096;

/**
 * Bytes of UTF-8 JSON a character can take once `mapFields` has taken control characters out
 * (whose JSON escape `\u0001` is six bytes) and made the text well-formed: four, the most a
 * code point takes in UTF-8 (`"` and `\` escape to two).
 */
const WORST_BYTES_PER_CHARACTER = 4;
/** A CRM id is at most 256 UTF-16 units (readCrmId), well-formed: at most 3 bytes a unit. */
const MAX_ID_UNITS = 256;
const WORST_BYTES_PER_ID_UNIT = 3;
/** The longest JSON a finite number takes, e.g. -2.2250738585072014e-308. */
const WORST_NUMBER_CHARS = 24;
/** synced_at and fresh_until, as toISOString writes them. */
const DATE = '2026-01-01T00:00:00.000Z';

const utf8Bytes = (text: string): number => new TextEncoder().encode(text).length;

/** The bytes of `app_metadata.crm` (sync-response.ts CrmAppMetadata) at its worst. */
export function worstCaseMetadataBytes(
  mapping: Pick<ClaimMapping, 'namespace' | 'fields' | 'maxValueLength'>,
): number {
  // The record with every string empty; the worst content of each is added to it.
  const skeleton = {
    id: '',
    synced_at: DATE,
    fresh_until: DATE,
    namespace: mapping.namespace,
    fields: Object.fromEntries(mapping.fields.map(({ claim }) => [claim, ''])),
  };
  return (
    utf8Bytes(JSON.stringify(skeleton)) +
    MAX_ID_UNITS * WORST_BYTES_PER_ID_UNIT +
    mapping.fields.length * worstValueBytes(mapping.maxValueLength)
  );
}

/** A string value's content (its quotes are in the skeleton), or a number in their place. */
function worstValueBytes(maxValueLength: number): number {
  return Math.max(maxValueLength * WORST_BYTES_PER_CHARACTER, WORST_NUMBER_CHARS - 2);
}

/** What is wrong with the mapping's worst case, saying the cap and what would fit; or undefined. */
export function metadataSizeProblem(
  mapping: Pick<ClaimMapping, 'namespace' | 'fields' | 'maxValueLength'>,
): string | undefined {
  const worst = worstCaseMetadataBytes(mapping);
  if (worst <= MAX_CRM_METADATA_BYTES) return undefined;
  const count = mapping.fields.length;
  const fixed = worst - count * worstValueBytes(mapping.maxValueLength);
  const fits = Math.floor((MAX_CRM_METADATA_BYTES - fixed) / (count * WORST_BYTES_PER_CHARACTER));
  return (
    `${count} claim${count === 1 ? '' : 's'} of up to ${mapping.maxValueLength} characters ` +
    `can make app_metadata.crm ${worst.toLocaleString('en-US')} bytes of UTF-8 JSON at worst ` +
    `(${WORST_BYTES_PER_CHARACTER} bytes a character, a 256-character CRM id), above the cap of ` +
    `${MAX_CRM_METADATA_BYTES.toLocaleString('en-US')} bytes kept inside Auth0's 10 KB profile ` +
    `limit: map fewer claims or cut values shorter` +
    (fits >= 1 ? ` (at most ${fits} characters with these claims)` : '')
  );
}
