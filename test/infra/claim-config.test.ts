import { describe, expect, it } from 'vitest';
import { readStackConfig } from '#infra/config.ts';

/**
 * The claim settings of the stack, checked at `cdk synth` as the service checks them at start:
 * a namespace Auth0 would not honour on access tokens, and a map whose worst-case
 * app_metadata.crm exceeds the 4 KB cap (shared/domain/claim-size.ts).
 */

const deployable = { auth0Domain: 'acme.eu.auth0.com', crmUrl: 'https://crm.acme.test/lookup' };

function messageOf(context: Record<string, unknown>): string {
  try {
    readStackConfig((key) => ({ ...deployable, ...context })[key]);
    return 'no error';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('claim settings at synth', () => {
  it('the defaults pass, with or without accessTokenClaims', () => {
    expect(messageOf({})).toBe('no error');
    expect(messageOf({ accessTokenClaims: true })).toBe('no error');
  });

  it('refuses a non-URL namespace when the claims go on access tokens too', () => {
    expect(messageOf({ claimNamespace: 'crm_' })).toBe('no error');
    expect(messageOf({ claimNamespace: 'crm_', accessTokenClaims: true })).toMatch(
      /^Invalid CDK context: claimNamespace \(with accessTokenClaims\): "crm_" is not an http\(s\) URL; .*Auth0 drops claims that are not namespaced by one, silently/,
    );
  });

  it('refuses a claim map whose worst case exceeds the cap, naming claimMap and the cap', () => {
    const claimMap = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((k) => [k, k]));
    expect(messageOf({ claimMap })).toMatch(
      /^Invalid CDK context: claimMap \(values cut at CLAIM_VALUE_MAX_LENGTH, 256\): 5 claims .* above the cap of 4,096 bytes/,
    );
  });

  it('names the setting of any other claim mapping error', () => {
    expect(messageOf({ claimMap: { 'a.b': 'x' } })).toMatch(
      /^Invalid CDK context: claimMap: claim name/,
    );
    expect(messageOf({ claimNamespace: 'https://x.auth0.com/' })).toMatch(
      /^Invalid CDK context: claimNamespace: may not use Auth0's domain/,
    );
  });
});
