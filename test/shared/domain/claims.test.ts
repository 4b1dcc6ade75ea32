import { describe, expect, it } from 'vitest';
import { buildClaimMapping, mapFields, readCrmId, toClaims } from '#shared/domain/claims.ts';

const mapping = (
  fields: Record<string, string>,
  extra: Partial<{ namespace: string; maxValueLength: number }> = {},
) =>
  buildClaimMapping({
    namespace: extra.namespace ?? 'https://crm.example.com/',
    idPath: 'id',
    fields,
    maxValueLength: extra.maxValueLength ?? 256,
  });

describe('claim mapping', () => {
  const record = {
    id: 'C-1',
    name: 'Ada',
    profile: { tier: 'gold', score: 42, vip: true, tags: ['a'], nested: { deep: 1 } },
    notes: 'secret notes',
  };

  it('takes only the mapped fields, by dotted path', () => {
    const m = mapping({ crm_id: 'id', name: 'name', tier: 'profile.tier', vip: 'profile.vip' });
    expect(mapFields(record, m)).toEqual({ crm_id: 'C-1', name: 'Ada', tier: 'gold', vip: true });
  });

  it('leaves out objects, arrays, nulls and missing fields: never a whole record', () => {
    const m = mapping({ p: 'profile', tags: 'profile.tags', n: 'profile.nested', gone: 'nope.x' });
    expect(mapFields(record, m)).toEqual({});
  });

  it('caps long string values', () => {
    const m = mapping({ name: 'name' }, { maxValueLength: 5 });
    expect(mapFields({ name: 'Augusta Ada King' }, m)).toEqual({ name: 'Augus' });
    expect(mapFields({ name: '😀😀😀😀😀😀' }, m).name).toBe('😀😀😀😀😀');
  });

  it('reads only own properties, so __proto__ and constructor in a reply are inert', () => {
    const hostile = JSON.parse('{"id":"C-2","__proto__":{"name":"polluted"}}');
    expect(mapFields(hostile, mapping({ name: 'name' }))).toEqual({});
    expect(({} as { name?: unknown }).name).toBeUndefined();
  });

  it('reads the CRM id as text, from a string or an integer', () => {
    const m = mapping({ crm_id: 'id' });
    expect(readCrmId({ id: 'C-9' }, m)).toBe('C-9');
    expect(readCrmId({ id: 1001 }, m)).toBe('1001');
    expect(readCrmId({ id: '' }, m)).toBeUndefined();
    expect(readCrmId({ id: { x: 1 } }, m)).toBeUndefined();
    expect(readCrmId([], m)).toBeUndefined();
  });

  it('namespaces every claim', () => {
    expect(toClaims('https://crm.example.com/', { crm_id: 'C-1', name: 'Ada' })).toEqual({
      'https://crm.example.com/crm_id': 'C-1',
      'https://crm.example.com/name': 'Ada',
    });
  });
});

describe('claim configuration refused at start', () => {
  it.each([
    [{ sub: 'id' }, '', /namespace.*empty|must not be empty/],
    [{ ub: 'id' }, 's', /restricted/],
    [{ ame: 'name' }, 'n', /restricted/],
    [{ ok: 'constructor' }, undefined, /not a usable dotted path/],
    [{ 'a.b': 'id' }, undefined, /claim name/],
    [{ ok: '__proto__.x' }, undefined, /not a usable dotted path/],
    [{ ok: 'a..b' }, undefined, /not a usable dotted path/],
    [{}, undefined, /at least one claim/],
    [{ id: 'id' }, 'https://tenant.auth0.com/', /Auth0's domain/],
    [{ id: 'id' }, 'https://x.webtask.run/', /Auth0's domain/],
    [{ id: 'id' }, 'urn:auth0:x/', /reserved/],
  ] as const)('%j under %j', (fields, namespace, message) => {
    expect(() =>
      mapping(fields as Record<string, string>, namespace === undefined ? {} : { namespace }),
    ).toThrow(message);
  });
});
