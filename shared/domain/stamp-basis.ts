import { createHash } from 'node:crypto';
import type { ClaimMapping } from './claims.ts';
import type { MatchKey } from './sync-request.ts';

/**
 * What a stamp answers: the match key and the part of the claim mapping that shapes the
 * answer, fingerprinted. A stamp only answers a request with the same basis, so a changed phone
 * number or a changed CLAIM_MAP asks the CRM again. A pure function: the backfill's
 * orchestrator computes it without the CRM key or the signing secret.
 */
export function stampBasis(key: MatchKey, mapping: ClaimMapping): string {
  const value = key.kind === 'phone' ? key.e164 : key.email;
  return createHash('sha256')
    .update(`${key.kind}\0${value}\0${mappingFingerprint(mapping)}`)
    .digest('base64url')
    .slice(0, 22);
}

// The mapping is fixed per process; its fingerprint is computed once per mapping object.
const fingerprints = new WeakMap<ClaimMapping, string>();

function mappingFingerprint(mapping: ClaimMapping): string {
  let fingerprint = fingerprints.get(mapping);
  if (fingerprint === undefined) {
    const { idPath, fields, maxValueLength, crmKind } = mapping;
    // The generic CRM's fingerprint is the one stamps had before named CRMs: they stay valid.
    const named = crmKind !== undefined && crmKind !== 'http';
    fingerprint = JSON.stringify([idPath, fields, maxValueLength, ...(named ? [crmKind] : [])]);
    fingerprints.set(mapping, fingerprint);
  }
  return fingerprint;
}
