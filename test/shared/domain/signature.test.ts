import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSigningSecrets, sign, verifySignature } from '#shared/domain/signature.ts';

const NOW = 1_795_000_000;
const bytes = (s: string) => Buffer.from(s, 'utf8');
const secret = fc.string({ minLength: 1, maxLength: 64 });
const body = fc.string({ maxLength: 512 });

describe('request signatures (property tests)', () => {
  it('a request signed with any configured secret, up to 5 min old or 60 s ahead, is accepted', () => {
    fc.assert(
      fc.property(
        secret,
        secret,
        body,
        fc.integer({ min: -300, max: 60 }),
        (current, previous, text, skew) => {
          const header = sign(previous, NOW + skew, text);
          expect(verifySignature(header, bytes(text), [current, previous], NOW)).toBe('valid');
        },
      ),
    );
  });

  it('changing any byte of the body breaks the signature', () => {
    fc.assert(
      fc.property(
        secret,
        fc.uint8Array({ minLength: 1, maxLength: 256 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (key, raw, at, flip) => {
          const header = sign(key, NOW, raw);
          const tampered = Uint8Array.from(raw);
          const i = at % tampered.length;
          tampered[i] = (tampered[i] as number) ^ flip;
          expect(verifySignature(header, tampered, [key], NOW)).toBe('invalid_signature');
        },
      ),
    );
  });

  it('a secret that is not configured never verifies', () => {
    fc.assert(
      fc.property(secret, secret, body, (key, other, text) => {
        fc.pre(key !== other);
        expect(verifySignature(sign(other, NOW, text), bytes(text), [key], NOW)).toBe(
          'invalid_signature',
        );
      }),
    );
  });

  it('a timestamp over five minutes old is expired, once the MAC is right', () => {
    fc.assert(
      fc.property(secret, body, fc.integer({ min: 301, max: 10_000_000 }), (key, text, off) => {
        const header = sign(key, NOW - off, text);
        expect(verifySignature(header, bytes(text), [key], NOW)).toBe('signature_expired');
      }),
    );
  });

  it('a timestamp over 60 s in the future is expired: it would outlive the window', () => {
    fc.assert(
      fc.property(secret, body, fc.integer({ min: 61, max: 10_000_000 }), (key, text, ahead) => {
        const header = sign(key, NOW + ahead, text);
        expect(verifySignature(header, bytes(text), [key], NOW)).toBe('signature_expired');
      }),
    );
  });

  it('a re-timestamped signature does not verify (the timestamp is signed)', () => {
    fc.assert(
      fc.property(secret, body, fc.integer({ min: 1, max: 300 }), (key, text, shift) => {
        const header = sign(key, NOW - 400, text).replace(/^t=\d+/, `t=${NOW - 400 + shift}`);
        expect(verifySignature(header, bytes(text), [key], NOW)).toBe('invalid_signature');
      }),
    );
  });

  it('arbitrary header strings never throw and never verify', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (header) => {
        expect(verifySignature(header, bytes('{}'), ['k'], NOW)).toBe('invalid_signature');
      }),
    );
  });
});

describe('reading the stored signing secret', () => {
  it('takes the JSON the CDK stack writes, current first', () => {
    expect(parseSigningSecrets('{"current":"new","previous":"old"}')).toEqual(['new', 'old']);
    expect(parseSigningSecrets('{"current":"only"}')).toEqual(['only']);
  });

  it('takes a comma-separated list, as in SYNC_SIGNING_SECRET', () => {
    expect(parseSigningSecrets(' new , old ')).toEqual(['new', 'old']);
  });

  it('refuses a value without a usable secret, without echoing it', () => {
    expect(() => parseSigningSecrets('{"current":""}')).toThrow(/no usable secret/);
    expect(() => parseSigningSecrets('{"current":"abc"')).toThrow(/does not parse/);
    expect(() => parseSigningSecrets(' , ')).toThrow(/no usable secret/);
  });
});
