import { createHmac, timingSafeEqual } from 'node:crypto';

/** How old a request's timestamp may be, in seconds (the caller's clock may lag ours). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;
/**
 * How far ahead of the service clock a timestamp may be, in seconds. Small: a timestamp in
 * the future would keep a captured signature usable for longer than the past window.
 */
export const SIGNATURE_MAX_FUTURE_SECONDS = 60;

export type SignatureCheck = 'valid' | 'invalid_signature' | 'signature_expired';

const HEADER = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/;

export function sign(secret: string, timestamp: number, body: string | Uint8Array): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * Checks an `X-Sync-Signature` header against every configured secret (current, then previous
 * during a rotation). The MAC is verified before the timestamp so that a stranger learns
 * nothing about the clock window from a forged header.
 */
export function verifySignature(
  header: string | undefined,
  body: Uint8Array,
  secrets: readonly string[],
  nowSeconds: number,
): SignatureCheck {
  const parsed = readSignatureHeader(header);
  if (!parsed) return 'invalid_signature';
  const { timestamp } = parsed;
  const presented = Buffer.from(parsed.mac, 'hex');
  const signed = secrets.some((secret) => {
    const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest();
    return timingSafeEqual(expected, presented);
  });
  if (!signed) return 'invalid_signature';
  const age = nowSeconds - timestamp;
  return age <= SIGNATURE_TOLERANCE_SECONDS && age >= -SIGNATURE_MAX_FUTURE_SECONDS
    ? 'valid'
    : 'signature_expired';
}

/** The parts of a well-formed `X-Sync-Signature` header, or undefined. */
export function readSignatureHeader(
  header: string | undefined,
): { readonly timestamp: number; readonly mac: string } | undefined {
  const match = header === undefined ? null : HEADER.exec(header.trim());
  if (!match) return undefined;
  return { timestamp: Number(match[1]), mac: match[2] as string };
}

/**
 * Until when (epoch ms) a verified signature could be presented again and still be valid: its
 * timestamp plus the past window, plus the future window for our own clock's drift.
 */
export function signatureValidUntil(timestamp: number): number {
  return (timestamp + SIGNATURE_TOLERANCE_SECONDS + SIGNATURE_MAX_FUTURE_SECONDS) * 1000;
}

/**
 * Reads the signing secret as stored: a JSON object `{"current": "...", "previous": "..."}`
 * (how the CDK stack generates and rotates it) or a comma-separated list, current first.
 */
export function parseSigningSecrets(raw: string): string[] {
  const text = raw.trim();
  let secrets: unknown[];
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error('the signing secret looks like JSON but does not parse');
    }
    const { current, previous } = (parsed ?? {}) as { current?: unknown; previous?: unknown };
    secrets = [current, previous];
  } else {
    secrets = text.split(',').map((s) => s.trim());
  }
  const usable = secrets.filter((s): s is string => typeof s === 'string' && s.length > 0);
  if (usable.length === 0) throw new Error('the signing secret holds no usable secret');
  return usable;
}
