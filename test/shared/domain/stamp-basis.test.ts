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

  it('a switch to a named CRM asks it again; the generic CRM keeps the basis stamps have today', () => {
    const http = stampBasis(key, { ...mapping, crmKind: 'http' });
    expect(http).toBe(stampBasis(key, mapping));
    expect(stampBasis(key, { ...mapping, crmKind: 'salesforce' })).not.toBe(http);
    expect(stampBasis(key, { ...mapping, crmKind: 'hubspot' })).not.toBe(
      stampBasis(key, { ...mapping, crmKind: 'salesforce' }),
    );
  });
});
