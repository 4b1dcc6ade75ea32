import { describe, expect, it } from 'vitest';
import {
  buildClaimMapping,
  checkAccessTokenNamespace,
  mapFields,
  readCrmId,
  toClaims,
} from '#shared/domain/claims.ts';

const mapping = (
  fields: Record<string, string>,
  extra: Partial<{ namespace: string; maxValueLength: number }> = {},
) =>
  buildClaimMapping({
    namespace: extra.namespace ?? 'https://crm.example.com/',
    idPath: 'id',
    fields,
    maxValueLength: extra.maxValueLength ?? 64,
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

  it('takes control characters out of values and makes them well-formed text', () => {
    const m = mapping({ name: 'name' });
    expect(mapFields({ name: 'A\u0000d\u001fa\u009f\n' }, m)).toEqual({ name: 'Ada' });
    expect(mapFields({ name: 'x\ud800y' }, m)).toEqual({ name: 'x\ufffdy' });
  });

  it('refuses a CRM id with a control character or a lone surrogate', () => {
    const m = mapping({ crm_id: 'id' });
    expect(readCrmId({ id: 'C-1\n' }, m)).toBeUndefined();
    expect(readCrmId({ id: 'C-\ud800' }, m)).toBeUndefined();
    expect(readCrmId({ id: 'x'.repeat(257) }, m)).toBeUndefined();
    expect(readCrmId({ id: '€'.repeat(256) }, m)).toBe('€'.repeat(256));
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
    [{ once: 'id' }, 'n', /restricted/],
    [{ nternalService: 'id' }, 'i', /restricted/],
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

describe("Auth0's restricted claims (create-custom-claims.mdx)", () => {
  it('allows the OIDC profile claims Auth0 lists as non-restricted: name, email, phone_number, ...', () => {
    // A one-letter namespace makes the full claim name the standard one.
    expect(() => mapping({ ame: 'name' }, { namespace: 'n' })).not.toThrow();
    expect(() => mapping({ mail: 'email' }, { namespace: 'e' })).not.toThrow();
    expect(() => mapping({ hone_number: 'phone' }, { namespace: 'p' })).not.toThrow();
  });

  it.each(['sub', 'aud', 'org_id', 'permissions', 'gty', 'may_act'])('refuses %s', (claim) => {
    expect(() => mapping({ [claim.slice(1)]: 'id' }, { namespace: claim.slice(0, 1) })).toThrow(
      /restricted/,
    );
  });
});

describe('claims on access tokens need a URL namespace', () => {
  it.each(['https://crm.example.com/', 'http://acme.test/claims/'])('accepts %s', (namespace) => {
    expect(() => checkAccessTokenNamespace(namespace)).not.toThrow();
  });

  it.each(['crm_', 'urn:acme:crm:', 'https://'])(
    'refuses %j, which Auth0 would drop silently',
    (namespace) => {
      expect(() => checkAccessTokenNamespace(namespace)).toThrow(
        /is not an http\(s\) URL; with the claims on access tokens too, Auth0 drops/,
      );
    },
  );
});
