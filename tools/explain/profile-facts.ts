import { normalisePhoneNumber } from '#shared/domain/phone.ts';
import {
  type MatchKeyKind,
  profileSyncRequest,
  type RequestPolicy,
} from '#shared/domain/sync-request.ts';
import { isObject } from './user-state.ts';

/**
 * What the tool may say about an Auth0 profile: whether a phone number or an email is there,
 * never what it is, and the CRM link the Action stored at `app_metadata.crm`, with the names of
 * its fields, never their values.
 */
export interface ProfileFacts {
  readonly phone_number: 'present' | 'absent' | 'unreadable';
  readonly email: 'present' | 'absent';
  /** The deployment's match keys (CRM_MATCH_KEYS), in order of preference. */
  readonly match_keys: readonly MatchKeyKind[];
  /** The key the sync API would look this profile up with; null when it has none it can use. */
  readonly match_key: MatchKeyKind | null;
  readonly crm: CrmOnProfile;
}

/** `app_metadata.crm` (shared/domain/sync-response.ts CrmAppMetadata), as far as it can be read. */
export type CrmOnProfile =
  | { readonly state: 'absent' }
  | { readonly state: 'unreadable' }
  | {
      readonly state: 'present';
      readonly id: string | null;
      readonly synced_at: string;
      readonly fresh_until: string;
      /**
       * The names of the claims it gives (namespace + field key), what the Action sets from it.
       * The values are CRM data (a mapped `name` is a person's name): dropped as it is read.
       */
      readonly claim_names: readonly string[];
    };

/** The profile as the Management API returns it; only these fields are read. */
export interface Auth0Profile {
  readonly user_id: string;
  readonly phone_number?: unknown;
  readonly email?: unknown;
  readonly app_metadata?: unknown;
}

/** The phone number and email as the Action would send them: used for --resync, never shown. */
export interface MatchValues {
  readonly phone_number?: string;
  readonly email?: string;
}

export function profileFacts(profile: Auth0Profile, policy: RequestPolicy): ProfileFacts {
  const { phone_number, email } = matchValues(profile);
  const request = profileSyncRequest({ user_id: profile.user_id, phone_number, email }, policy);
  return {
    phone_number:
      phone_number === undefined
        ? 'absent'
        : normalisePhoneNumber(phone_number, policy.defaultPhoneCountry).ok
          ? 'present'
          : 'unreadable',
    email: email === undefined ? 'absent' : 'present',
    match_keys: policy.matchKeys,
    match_key: request?.matchKey.kind ?? null,
    crm: crmOnProfile(isObject(profile.app_metadata) ? profile.app_metadata.crm : undefined),
  };
}

/** What the Action sends (functions/auth0-post-login/action.ts): non-empty strings only. */
export function matchValues(profile: Auth0Profile): MatchValues {
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v : undefined);
  const phone_number = text(profile.phone_number);
  const email = text(profile.email);
  return { ...(phone_number ? { phone_number } : {}), ...(email ? { email } : {}) };
}

/** Read as the Action reads it (functions/auth0-post-login/crm-metadata.ts readCrmMetadata). */
export function crmOnProfile(value: unknown): CrmOnProfile {
  if (value === undefined || value === null) return { state: 'absent' };
  if (!isObject(value)) return { state: 'unreadable' };
  const { id, synced_at, fresh_until, namespace, fields } = value;
  if (id !== null && typeof id !== 'string') return { state: 'unreadable' };
  if (typeof synced_at !== 'string' || typeof fresh_until !== 'string') {
    return { state: 'unreadable' };
  }
  if (typeof namespace !== 'string' || !isObject(fields)) return { state: 'unreadable' };
  // The Action keeps only scalar fields (readCrmMetadata), so only their names count here.
  const claim_names = Object.entries(fields)
    .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
    .map(([name]) => `${namespace}${name}`);
  return { state: 'present', id, synced_at, fresh_until, claim_names };
}
