import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildClaimMapping } from '#shared/domain/claims.ts';
import { stampBasis } from '#shared/domain/stamp-basis.ts';

describe('a stamp basis and the CRM that answered', () => {
  const mapping = buildClaimMapping({
    namespace: 'https://crm.example.com/',
    idPath: 'id',
    fields: { crm_id: 'id', name: 'name' },
    maxValueLength: 256,
  });
  const key = { kind: 'phone', e164: '+15550100001' } as const;

  it('the generic CRM keeps the basis stamps had before named CRMs: a deploy asks the CRM nothing', () => {
    // The formula of stamp-basis.ts before CRM_KIND (commit 7c2e198), written out.
    const before = createHash('sha256')
      .update(`phone\0+15550100001\0${JSON.stringify([['id'], mapping.fields, 256])}`)
      .digest('base64url')
      .slice(0, 22);
    expect(stampBasis(key, { ...mapping, crmKind: 'http' })).toBe(before);
    expect(stampBasis(key, mapping)).toBe(before);
  });

  it('a switch to a named CRM asks it again', () => {
    const http = stampBasis(key, { ...mapping, crmKind: 'http' });
    expect(stampBasis(key, { ...mapping, crmKind: 'salesforce' })).not.toBe(http);
    expect(stampBasis(key, { ...mapping, crmKind: 'hubspot' })).not.toBe(
      stampBasis(key, { ...mapping, crmKind: 'salesforce' }),
    );
  });
});
