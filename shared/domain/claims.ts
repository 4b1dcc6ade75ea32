import { metadataSizeProblem } from './claim-size.ts';

/**
 * Claim mapping: which CRM fields reach the user's profile and tokens, under which names.
 * Only the fields named here ever leave the CRM record; the record itself is never copied.
 */

export type ClaimValue = string | number | boolean;

/** Claim values keyed by their short name (without the namespace). */
export type ClaimFields = Record<string, ClaimValue>;

export interface ClaimMapping {
  /** Prefix of every claim, e.g. `https://crm.example.com/`. */
  readonly namespace: string;
  /** Path of the record id in the CRM response. */
  readonly idPath: readonly string[];
  /** Short claim name → path in the CRM record. */
  readonly fields: ReadonlyArray<{ readonly claim: string; readonly path: readonly string[] }>;
  /** Longer string values are cut to this many characters. */
  readonly maxValueLength: number;
  /**
   * Which CRM's records the paths address (CRM_KIND), when not the generic one: part of a
   * stamp's basis (stamp-basis.ts), so that a switch to another CRM asks it again instead of
   * serving the old CRM's ids until the day ends.
   */
  readonly crmKind?: string | undefined;
}

// Auth0's restricted claims, exactly as listed in "Create Custom Claims" (auth0/docs-v2
// main/docs/secure/tokens/json-web-tokens/create-custom-claims.mdx, "General restrictions"): a
// custom claim by one of these names is not added to the token, silently. The OIDC profile claims
// (`name`, `email`, `phone_number`, ...) are listed there as non-restricted, so they are allowed.
const RESTRICTED_CLAIMS = new Set(
  (
    'acr act active amr at_hash ath attest aud auth_time authorization_details azp c_hash ' +
    'client_id cnf cty dest entitlements events exp groups gty htm htu iat internalService iss ' +
    'jcard jku jti jwe jwk kid may_act mky nbf nonce object_id org_id org_name orig origid ' +
    'permissions roles rph s_hash sid sip_callid sip_cseq_num sip_date sip_from_tag ' +
    'sip_via_branch sub sub_jwk toe txn typ uuid vot vtm x5t#S256'
  ).split(' '),
);

// Auth0 reserves its own domains as claim namespaces.
const RESERVED_NAMESPACE_HOSTS = ['auth0.com', 'webtask.io', 'webtask.run'];

// Claim names become keys of app_metadata, where Auth0 forbids '.' and '$'.
const CLAIM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const UNSAFE_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);
export const MAX_MAPPED_FIELDS = 20;

/** A mapping setting that cannot work; `setting` says which one. */
export class ClaimMappingError extends Error {
  constructor(
    /** `size`: the fields and their length together (CLAIM_MAP and CLAIM_VALUE_MAX_LENGTH). */
    readonly setting: 'namespace' | 'idPath' | 'fields' | 'size',
    message: string,
  ) {
    super(message);
    this.name = 'ClaimMappingError';
  }
}

/** Builds a mapping from configuration; throws a ClaimMappingError naming what is wrong. */
export function buildClaimMapping(options: {
  namespace: string;
  idPath: string;
  fields: Record<string, string>;
  maxValueLength: number;
}): ClaimMapping {
  const { namespace } = options;
  if (namespace.length === 0) throw new ClaimMappingError('namespace', 'must not be empty');
  if (namespace.toLowerCase().startsWith('urn:auth0')) {
    throw new ClaimMappingError('namespace', 'urn:auth0 is reserved by Auth0');
  }
  if (/^https?:\/\//i.test(namespace)) {
    const host = safeHost(namespace);
    if (host === undefined) throw new ClaimMappingError('namespace', 'is not a valid URL');
    if (RESERVED_NAMESPACE_HOSTS.some((h) => host === h || host.endsWith(`.${h}`))) {
      throw new ClaimMappingError('namespace', `may not use Auth0's domain ${host}`);
    }
  }
  const idPath = parsePath(options.idPath, 'idPath', 'the CRM id path');
  const entries = Object.entries(options.fields);
  if (entries.length === 0) throw new ClaimMappingError('fields', 'must name at least one claim');
  if (entries.length > MAX_MAPPED_FIELDS) {
    throw new ClaimMappingError('fields', `may name at most ${MAX_MAPPED_FIELDS} claims`);
  }
  const fields = entries.map(([claim, path]) => {
    if (!CLAIM_NAME.test(claim)) {
      throw new ClaimMappingError(
        'fields',
        `claim name "${claim}" must be 1-64 letters, digits, '_' or '-'`,
      );
    }
    if (RESTRICTED_CLAIMS.has(`${namespace}${claim}`)) {
      throw new ClaimMappingError(
        'fields',
        `claim "${namespace}${claim}" is restricted by OIDC/Auth0`,
      );
    }
    return { claim, path: parsePath(path, 'fields', `claim "${claim}"`) };
  });
  const mapping = { namespace, idPath, fields, maxValueLength: options.maxValueLength };
  const tooBig = metadataSizeProblem(mapping);
  if (tooBig) throw new ClaimMappingError('size', tooBig);
  return mapping;
}

/**
 * Refuses a namespace that Auth0 would not count as one on access tokens. Auth0 drops private,
 * non-namespaced custom claims from access tokens for its API audiences, silently, and only an
 * http(s) URL is a namespace there (a URN is one for custom APIs only): create-custom-claims.mdx,
 * "General restrictions" and "Namespaced guidelines". Called when the claims go on access tokens.
 */
export function checkAccessTokenNamespace(namespace: string): void {
  if (!/^https?:\/\//i.test(namespace) || safeHost(namespace) === undefined) {
    throw new ClaimMappingError(
      'namespace',
      `"${namespace}" is not an http(s) URL; with the claims on access tokens too, Auth0 drops ` +
        'claims that are not namespaced by one, silently (use e.g. https://crm.example.com/)',
    );
  }
}

function safeHost(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

function parsePath(path: string, setting: ClaimMappingError['setting'], what: string): string[] {
  const segments = path.split('.');
  if (segments.some((s) => s.length === 0 || UNSAFE_SEGMENTS.has(s))) {
    throw new ClaimMappingError(setting, `${what}: "${path}" is not a usable dotted path`);
  }
  return segments;
}

/** Reads a dotted path through own properties only, so `__proto__` keys in a reply are inert. */
export function readPath(record: unknown, path: readonly string[]): unknown {
  let current: unknown = record;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return;
    if (!Object.hasOwn(current, segment)) return;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

/**
 * The CRM id of a record: 1-256 characters of well-formed text without control characters, or an
 * integer, as text; undefined otherwise (so the stored id has a known worst size, claim-size.ts).
 */
export function readCrmId(record: unknown, mapping: ClaimMapping): string | undefined {
  const id = readPath(record, mapping.idPath);
  if (
    typeof id === 'string' &&
    id.length > 0 &&
    id.length <= 256 &&
    id.isWellFormed() &&
    !hasControlCharacter(id)
  ) {
    return id;
  }
  if (typeof id === 'number' && Number.isSafeInteger(id)) return String(id);
  return undefined;
}

/** Picks the mapped fields out of a CRM record. Objects, arrays and nulls are left out. */
export function mapFields(record: unknown, mapping: ClaimMapping): ClaimFields {
  const fields: ClaimFields = {};
  for (const { claim, path } of mapping.fields) {
    const value = readPath(record, path);
    if (typeof value === 'string') {
      fields[claim] = capLength(cleanText(value), mapping.maxValueLength);
    } else if (
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value))
    ) {
      fields[claim] = value;
    }
  }
  return fields;
}

/** C0 controls (six bytes each as JSON escapes, `\u0001`), DEL and C1 controls: noise in a claim. */
function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (isControl(value.charCodeAt(i))) return true;
  return false;
}

/** Well-formed text without control characters: at most 4 bytes of JSON a character. */
function cleanText(value: string): string {
  const text = value.toWellFormed();
  if (!hasControlCharacter(text)) return text;
  let clean = '';
  for (let i = 0; i < text.length; i++) if (!isControl(text.charCodeAt(i))) clean += text[i];
  return clean;
}

function capLength(value: string, max: number): string {
  if (value.length <= max) return value;
  // Cut by code points so a surrogate pair is never split.
  return Array.from(value).slice(0, max).join('');
}

/** Namespaced claims, ready for `api.idToken.setCustomClaim`. */
export function toClaims(namespace: string, fields: ClaimFields): ClaimFields {
  const claims: ClaimFields = {};
  for (const [name, value] of Object.entries(fields)) claims[`${namespace}${name}`] = value;
  return claims;
}
