import { describe, expect, it } from 'vitest';
import { MAX_CRM_METADATA_BYTES, worstCaseMetadataBytes } from '#shared/domain/claim-size.ts';
import { buildClaimMapping, mapFields, readCrmId } from '#shared/domain/claims.ts';
import { toSyncResponse } from '#shared/domain/sync-response.ts';

/**
 * The worst case of app_metadata.crm, refused above a 4 KB cap when the mapping is built (at
 * start, and at `cdk synth`): Auth0 announces a 10 KB limit on the whole user profile.
 */

const mapping = (fields: Record<string, string>, maxValueLength = 256) =>
  buildClaimMapping({
    namespace: 'https://crm.example.com/',
    idPath: 'id',
    fields,
    maxValueLength,
  });

const manyFields = (count: number) =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`field_${i}`, `f${i}`]));

describe('the worst case of app_metadata.crm', () => {
  it('the default mapping (crm_id and name, 256 characters) is well inside the cap', () => {
    const worst = worstCaseMetadataBytes(mapping({ crm_id: 'id', name: 'name' }));
    expect(worst).toBe(2_977);
    expect(worst).toBeLessThanOrEqual(MAX_CRM_METADATA_BYTES);
  });

  it('bounds what a hostile CRM record really makes the service store', () => {
    const m = mapping({ crm_id: 'id', name: 'name', tier: 'tier' });
    // Three bytes a UTF-16 unit for the id, four a character for the values (emoji), and
    // control characters (six bytes each as JSON escapes) that are taken out.
    const record = { id: '€'.repeat(256), name: '😀'.repeat(300), tier: '\u0001'.repeat(300) };
    const crmId = readCrmId(record, m) ?? '';
    const now = Date.parse('2026-12-01T00:00:00Z');
    const outcome = {
      userId: 'sms|x',
      basis: 'b',
      status: 'synced' as const,
      crmId,
      fields: { ...mapFields(record, m), tier: '"'.repeat(256) },
      syncedAt: now,
      freshUntil: now,
    };
    const stored = toSyncResponse('sms|x', outcome, m.namespace).app_metadata;
    const bytes = new TextEncoder().encode(JSON.stringify(stored)).length;
    expect(bytes).toBeGreaterThan(2_900);
    expect(bytes).toBeLessThanOrEqual(worstCaseMetadataBytes(m));
  });

  it('20 claims of 2,048 characters are refused, naming the cap, the worst case and what fits', () => {
    expect(() => mapping(manyFields(20), 2_048)).toThrow(
      '20 claims of up to 2048 characters can make app_metadata.crm 165,017 bytes of UTF-8 JSON at worst (4 bytes a character, a 256-character CRM id), above the cap of 4,096 bytes',
    );
    expect(() => mapping(manyFields(20), 2_048)).toThrow(
      /map fewer claims or cut values shorter \(at most 36 characters with these claims\)/,
    );
  });

  it('three claims of 256 characters fit; a fourth does not', () => {
    expect(() => mapping(manyFields(3))).not.toThrow();
    expect(() => mapping(manyFields(4))).toThrow(/at most 196 characters with these claims/);
    expect(() => mapping(manyFields(4), 196)).not.toThrow();
  });
});
