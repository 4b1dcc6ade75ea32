import type { CrmOnProfile, ProfileFacts } from './profile-facts.ts';
import type { LastFailure, ServiceView, UserSyncState } from './user-state.ts';

/**
 * Why a user has the CRM claims they have, or none, and what the on-call does about it: one
 * sentence, from what the sync service holds (GET /v1/users) and, when the tool could read it,
 * the Auth0 profile. Pure: the I/O is in tools/explain.ts.
 */

export type DiagnosisCode =
  | 'unknown_user'
  | 'no_match_key'
  | 'never_looked_up'
  | 'crm_failing'
  | 'crm_failing_stale'
  | 'recent_lookup_failed'
  | 'profile_outdated'
  | 'not_in_crm'
  | 'ambiguous_match'
  | 'synced';

export interface Diagnosis {
  readonly code: DiagnosisCode;
  readonly sentence: string;
}

export interface DiagnosisInput {
  readonly userId: string;
  readonly service: ServiceView;
  /** The profile's facts; `not_read` without Auth0 credentials, `no_such_user` on Auth0's 404. */
  readonly profile: ProfileFacts | 'not_read' | 'no_such_user';
  readonly now: number;
}

export function diagnose(input: DiagnosisInput): Diagnosis {
  const { userId, service, profile } = input;
  const id = userId;
  if (profile === 'no_such_user') {
    return {
      code: 'unknown_user',
      sentence: `The Auth0 tenant has no user ${id}, so nobody logs in with it: check the user id, and that AUTH0_DOMAIN names the tenant the user is in.`,
    };
  }
  const facts = profile === 'not_read' ? undefined : profile;
  if (facts && facts.match_key === null) return noMatchKey(id, facts);
  if (service.kind === 'unknown') return neverLookedUp(id, facts);
  const { state } = service;
  if (state.status === 'failed') return crmFailing(id, state, facts, input.now);
  // A failure after a stamp still fresh (a forced lookup): the stamp still answers. `stale` and
  // fresh cannot both hold by the contract; read so anyway, the fresh stamp is what answers.
  if (state.fresh && state.last_failure !== null) return recentLookupFailed(id, state);
  if (state.status === 'stale') return crmFailingStale(id, state);
  const outdated = facts ? profileOutdated(id, state, facts.crm, input.now) : undefined;
  if (outdated) return outdated;
  if (state.status === 'not_found') return notInCrm(id, state);
  return synced(id, state);
}

function noMatchKey(id: string, facts: ProfileFacts): Diagnosis {
  const keys = facts.match_keys.map(keyName);
  const wanted = facts.match_keys.map((k) => (k === 'phone' ? 'a phone number' : 'an email'));
  const kept =
    facts.crm.state === 'present' && facts.crm.id !== null
      ? `, so logins keep the claims of CRM record ${facts.crm.id} stored on the profile (synced ${facts.crm.synced_at})`
      : ', so logins get no CRM claims';
  if (facts.phone_number === 'unreadable') {
    return {
      code: 'no_match_key',
      sentence: `The sync API refuses to look ${id} up (400 invalid_phone_number) because the profile's phone number cannot be read as one${kept}: correct it in international format (e.g. +1 555 010 0001), and the next login looks them up.`,
    };
  }
  if (facts.phone_number === 'absent' && facts.email === 'absent') {
    return {
      code: 'no_match_key',
      sentence: `The Action skips the CRM lookup for ${id} because the profile has neither a phone number nor an email${kept}: add ${wanted.join(' or ')} to the profile (CRM_MATCH_KEYS=${facts.match_keys.join(',')}), and the next login looks them up.`,
    };
  }
  const has = facts.phone_number === 'present' ? 'a phone number' : 'an email';
  return {
    code: 'no_match_key',
    sentence: `The sync API cannot look ${id} up because the profile has ${has} but no ${keys.join(' or ')}, the keys it matches on (CRM_MATCH_KEYS=${facts.match_keys.join(',')})${kept}: add one to the profile, or, if the service matches on other keys, set CRM_MATCH_KEYS here to its value.`,
  };
}

function neverLookedUp(id: string, facts: ProfileFacts | undefined): Diagnosis {
  const resync = `npm run explain -- ${shellQuote(id)} --resync`;
  const crm = facts?.crm;
  if (crm?.state === 'present') {
    // Stamps are deleted STAMP_RETENTION_DAYS after they stop being fresh; the profile keeps its copy.
    return {
      code: 'never_looked_up',
      sentence: `The sync service holds nothing for ${id} any more (a stamp is deleted STAMP_RETENTION_DAYS after it stops being fresh), so logins get the profile's app_metadata.crm (${record(crm.id)}, synced ${crm.synced_at}) while it is fresh, until ${crm.fresh_until}, and then ask the CRM: run \`${resync}\` to look them up now.`,
    };
  }
  const sentence = facts
    ? `The sync service has never looked ${id} up (no login or backfill has asked about them yet), though the profile has a ${keyName(facts.match_key ?? 'phone')} to match on: run \`${resync}\` to look them up now, or wait for their next login.`
    : `The sync service has never looked ${id} up (no login or backfill has asked about them yet): run \`${resync}\` with AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET set (or with --phone or --email) to look them up now.`;
  return { code: 'never_looked_up', sentence };
}

/**
 * No stamp and a failed lookup. What logins get then depends on the profile: the Action answers
 * from a fresh app_metadata.crm copy without asking, and when the sync API answers 503 it fails
 * open with the copy's claims, or denies with FAIL_MODE=closed (functions/auth0-post-login/
 * action.ts `failed`). A copy outlives the stamp, which retention deletes. FAIL_MODE is a secret
 * of the Action the tool cannot read, so both modes are told.
 */
function crmFailing(
  id: string,
  state: UserSyncState,
  facts: ProfileFacts | undefined,
  now: number,
): Diagnosis {
  const failure = state.last_failure;
  const when = failure ? ` since its lookup failed at ${failure.at} (${failure.code})` : '';
  const head = `The CRM has given no answer for ${id}${when} and the sync service holds no earlier answer (none ever, or its stamp was deleted after STAMP_RETENTION_DAYS)`;
  const fix = `${remedy(failure?.code)}, then run \`npm run explain -- ${shellQuote(id)} --resync\``;
  const unavailable = 'the sync API answers 503 crm_unavailable';
  const crm = facts?.crm;
  if (crm === undefined) {
    return {
      code: 'crm_failing',
      sentence: `${head}, so each login asks the CRM again and ${unavailable}: with FAIL_MODE=open (the default) logins get the claims of the profile's app_metadata.crm copy if it holds one (not read here: set AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET), else no CRM claims; with closed, they are denied: ${fix}.`,
    };
  }
  if (crm.state !== 'present') {
    const none = crm.state === 'absent' ? 'no' : 'no readable';
    return {
      code: 'crm_failing',
      sentence: `${head}, and the profile holds ${none} app_metadata.crm copy, so logins get no CRM claims (${unavailable}; with FAIL_MODE=closed they are denied) and each asks the CRM again: ${fix}.`,
    };
  }
  const copy = `the profile's app_metadata.crm copy (${record(crm.id)}, synced ${crm.synced_at}: ${crm.id === null ? 'no claims' : claimList(crm.claim_names)})`;
  const closed = 'with closed, the login is denied';
  if (Date.parse(crm.fresh_until) > now) {
    return {
      code: 'crm_failing',
      sentence: `${head}; logins get the claims of ${copy} without asking while it is fresh, until ${crm.fresh_until}; after that ${unavailable}: with FAIL_MODE=open (the default) the Action still gives the copy's claims; ${closed}: ${fix}.`,
    };
  }
  return {
    code: 'crm_failing',
    sentence: `${head}, so each login asks the CRM again and ${unavailable}: with FAIL_MODE=open (the default) the Action gives the claims of ${copy}; ${closed}: ${fix}.`,
  };
}

/** A lookup (forced: a fresh stamp is not asked again otherwise) failed after today's stamp. */
function recentLookupFailed(id: string, state: UserSyncState): Diagnosis {
  const failure = state.last_failure as LastFailure;
  const got =
    state.crm_id === null
      ? `no CRM record${state.match_key ? ` for their ${keyName(state.match_key)}` : ''}, asked at ${state.synced_at}`
      : `${record(state.crm_id)}, synced ${state.synced_at}`;
  const claims = state.crm_id === null ? 'no CRM claims' : claimList(state.claims);
  return {
    code: 'recent_lookup_failed',
    sentence: `Logins for ${id} are answered from today's stamp (${got}, fresh until ${state.fresh_until}) and get ${claims}, and a recent (forced) lookup failed at ${failure.at} with ${failure.code}: nothing to do for the user today; ${remedy(failure.code)} before ${state.fresh_until}, when logins ask the CRM again.`,
  };
}

function crmFailingStale(id: string, state: UserSyncState): Diagnosis {
  const failure = state.last_failure;
  const when = failure ? ` at ${failure.at} (${failure.code})` : '';
  return {
    code: 'crm_failing_stale',
    sentence: `Logins for ${id} get the last known CRM data (${record(state.crm_id)}, synced ${state.synced_at ?? 'never'}) because the CRM lookup failed${when}, and the next login asks again: ${remedy(failure?.code)}; nothing to do for the user.`,
  };
}

/**
 * The service's stamp and the profile's `app_metadata.crm` disagree. Only the Action (at login)
 * and the backfill write the profile; until then the Action answers from the profile while its
 * copy is fresh, and asks the sync API once it is not.
 */
function profileOutdated(
  id: string,
  state: UserSyncState,
  crm: CrmOnProfile,
  now: number,
): Diagnosis | undefined {
  const held = `the sync service holds ${record(state.crm_id)} for ${id} (synced ${state.synced_at})`;
  const writes =
    'the next login that asks the sync API writes it (or the backfill does), so there is nothing to do';
  if (crm.state !== 'present') {
    // A not_found stamp and no copy on the profile agree: the user simply has no record.
    if (state.crm_id === null) return undefined;
    const what =
      crm.state === 'absent'
        ? 'has no app_metadata.crm yet'
        : 'holds an app_metadata.crm the Action cannot read';
    return {
      code: 'profile_outdated',
      sentence: `${capitalise(held)} but the profile ${what}; ${writes}.`,
    };
  }
  // Names, never values: a value changed in the CRM under the same record and mapping is not
  // seen here (the values are CRM data about a person, which the tool does not print or hold).
  const sameLink = crm.id === state.crm_id && sameNames(crm.claim_names, state.claims);
  if (sameLink) return undefined;
  const differs =
    crm.id === state.crm_id
      ? `${record(crm.id)} with other claims (${names(crm.claim_names)}; the service gives ${names(state.claims)})`
      : record(crm.id);
  const until =
    Date.parse(crm.fresh_until) > now
      ? `, so logins keep the profile's claims until ${crm.fresh_until}`
      : '';
  return {
    code: 'profile_outdated',
    sentence: `The profile's app_metadata.crm names ${differs} while ${held}${until}; ${writes}.`,
  };
}

function notInCrm(id: string, state: UserSyncState): Diagnosis {
  const key = state.match_key ? `'s ${keyName(state.match_key)}` : '';
  const again = state.fresh
    ? `until it is asked again after ${state.fresh_until}`
    : 'and the next login asks again';
  if (state.ambiguous_matches) {
    return {
      code: 'ambiguous_match',
      sentence: `The CRM had ${state.ambiguous_matches} records for ${id}${key} when asked at ${state.synced_at}, so none was linked (the wrong one would put another person's data in the token) and logins get no CRM claims ${again}: merge or correct the duplicate contacts in the CRM, then run \`npm run explain -- ${shellQuote(id)} --resync\`.`,
    };
  }
  return {
    code: 'not_in_crm',
    sentence: `The CRM had no record for ${id}${key} when asked at ${state.synced_at}, so logins get no CRM claims ${again}: add or correct the contact in the CRM, then run \`npm run explain -- ${shellQuote(id)} --resync\`.`,
  };
}

function synced(id: string, state: UserSyncState): Diagnosis {
  const claims = claimList(state.claims);
  const sentence = state.fresh
    ? `${id} is linked to ${record(state.crm_id)} (synced ${state.synced_at}, fresh until ${state.fresh_until}), and logins get ${claims}; nothing to do.`
    : `${id} was linked to ${record(state.crm_id)} at ${state.synced_at} and logins get ${claims}; the stamp was fresh until ${state.fresh_until}, so the next login asks the CRM again; nothing to do.`;
  return { code: 'synced', sentence };
}

/** What to look at for a CRM failure reason (shared/domain/ports.ts CrmFailureReason). */
function remedy(code: string | undefined): string {
  switch (code) {
    case 'timeout':
      return "check the CRM's response time against the service's CRM_TIMEOUT_MS";
    case 'network':
      return 'check that the sync service reaches CRM_URL';
    case 'auth':
      return "check the service's CRM credentials (CRM_API_KEY; for Salesforce the connected app's SALESFORCE_CLIENT_ID and secret and its run-as user): the CRM refused them";
    case 'redirect':
      return "point CRM_URL at the CRM's final URL (redirects are never followed)";
    case 'too_large':
      return "check the CRM's answer against CRM_MAX_RESPONSE_BYTES";
    case 'invalid_response':
      return "check the CRM's answer (a JSON object with the record id at CRM_ID_PATH)";
    case 'http_status':
      return "check the CRM's health (it answered an unexpected HTTP status)";
    case 'rate_limited':
      return "the CRM asked the service to wait (a 429/503 Retry-After, HubSpot's daily limit, Salesforce's REQUEST_LIMIT_EXCEEDED); let it recover, or raise the limit with the CRM";
    case 'circuit_open':
      return "the service's circuit breaker is open after repeated CRM failures; check the CRM";
    case 'query_refused':
      return "the CRM refused the query itself: check that every CLAIM_MAP field or property exists and that the CRM's credentials may read it (for Salesforce, the run-as user's field-level security)";
    case 'fault':
      return "look for the fault in the sync service's logs";
    default:
      return "check the CRM and the sync service's logs";
  }
}

function record(crmId: string | null): string {
  return crmId === null ? 'no CRM record' : `CRM record ${crmId}`;
}

function keyName(kind: 'phone' | 'email'): string {
  return kind === 'phone' ? 'phone number' : 'email';
}

/** `https://crm.example.com/tier` → `tier`: the namespace is the same for every claim. */
function shortName(claim: string): string {
  const slash = claim.lastIndexOf('/');
  return slash >= 0 && slash < claim.length - 1 ? claim.slice(slash + 1) : claim;
}

/** `the claims crm_id, name`: short names, the namespace being the same for all. */
function claimList(claims: readonly string[]): string {
  return claims.length > 0 ? `the claims ${names(claims)}` : 'no CRM claims (none mapped)';
}

function names(claims: readonly string[]): string {
  return claims.length > 0 ? claims.map(shortName).join(', ') : 'none';
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((name) => set.has(name));
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A user id as a shell word: Auth0 ids hold `|`, which a shell would take for a pipe. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
