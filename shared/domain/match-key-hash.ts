import { createHmac } from 'node:crypto';
import type { MatchKey } from './sync-request.ts';

/**
 * A keyed hash of a match key (the normalised phone number or email), stored on the stamp and
 * indexed, so that a CRM change event carrying a phone number or email finds the users who
 * were `not_found` for it, without the table holding either. Keyed (HMAC) because a plain hash
 * of a phone number is reversed by trying every number: there are only about 10^10 per country.
 * The key is MATCH_KEY_HASH_SECRET, which never leaves Secrets Manager and the Lambdas; whoever
 * reads the table alone learns nothing.
 *
 * A changed key only orphans the hashes written before it: every stamp written afterwards
 * carries the new one, so the index heals within a sync day of logins and one backfill run.
 */
export function matchKeyHash(secret: string, key: MatchKey): string {
  const value = key.kind === 'phone' ? key.e164 : key.email;
  // 27 base64url characters: 160 bits, far beyond any collision among a tenant's users.
  return createHmac('sha256', secret)
    .update(`${key.kind}\0${value}`)
    .digest('base64url')
    .slice(0, 27);
}

/** Computes match-key hashes once the key is known; undefined when it cannot be read now. */
export type MatchKeyHasher = (key: MatchKey) => Promise<string | undefined>;
