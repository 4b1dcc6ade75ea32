import type { Diagnosis } from './diagnosis.ts';
import type { CrmOnProfile, ProfileFacts } from './profile-facts.ts';
import type { ResyncAnswer } from './sync-api.ts';
import type { ServiceView } from './user-state.ts';

/**
 * What the tool prints: the sentence first (what an on-call reads), then the facts it rests on.
 * Nothing here holds a phone number or an email: the profile is reduced to ProfileFacts before.
 */
export interface Explanation {
  readonly userId: string;
  readonly diagnosis: Diagnosis;
  readonly service: ServiceView;
  readonly profile: ProfileFacts | 'not_read' | 'no_such_user';
  readonly resync: ResyncAnswer | undefined;
}

export function renderText(e: Explanation): string {
  const lines = [e.diagnosis.sentence, ''];
  if (e.resync) lines.push(`resync:       ${resyncLine(e.resync)}`);
  lines.push(`sync service: ${serviceLine(e.service)}`);
  lines.push(`profile:      ${profileLine(e.profile)}`);
  lines.push(`diagnosis:    ${e.diagnosis.code}`);
  return `${lines.join('\n')}\n`;
}

/** One JSON object for scripts: the endpoint's answer, the profile's facts, the diagnosis. */
export function renderJson(e: Explanation): string {
  const profile =
    e.profile === 'not_read'
      ? { read: false }
      : e.profile === 'no_such_user'
        ? { read: true, exists: false }
        : { read: true, exists: true, ...e.profile };
  return `${JSON.stringify({
    user_id: e.userId,
    diagnosis: e.diagnosis,
    service: e.service.kind === 'known' ? e.service.state : null,
    service_knows_user: e.service.kind === 'known',
    profile,
    ...(e.resync
      ? {
          resync: {
            http_status: e.resync.httpStatus,
            status: e.resync.status,
            crm_id: e.resync.crmId,
          },
        }
      : {}),
  })}\n`;
}

function resyncLine(r: ResyncAnswer): string {
  if (r.status === 'crm_unavailable') {
    return '503 crm_unavailable: the CRM gave no answer and nothing is known about the user';
  }
  const note =
    r.status === 'cached'
      ? ' (answered from the stamp: a forced lookup runs at most once a minute per user)'
      : '';
  return `${r.httpStatus} ${r.status}, crm_id ${r.crmId ?? 'none'}${note}`;
}

function serviceLine(view: ServiceView): string {
  if (view.kind === 'unknown') return 'holds nothing for this user (404 user_not_found)';
  const s = view.state;
  const failure = s.last_failure ? `${s.last_failure.code} at ${s.last_failure.at}` : 'none';
  return [
    `status ${s.status}${s.fresh ? ' (fresh)' : ''}`,
    `crm_id ${s.crm_id ?? 'none'}`,
    `synced ${s.synced_at ?? 'never'}`,
    `fresh until ${s.fresh_until ?? '-'}`,
    `match key ${s.match_key ?? 'none'}`,
    `next login ${s.next_login}`,
    `last failure ${failure}`,
    ...(s.lookup_in_flight ? ['a lookup is in flight now'] : []),
  ].join(', ');
}

function profileLine(profile: Explanation['profile']): string {
  if (profile === 'not_read') {
    return 'not read (set AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET of an M2M application with read:users)';
  }
  if (profile === 'no_such_user') return 'no such user in the Auth0 tenant';
  return [
    `phone number: ${profile.phone_number}`,
    `email: ${profile.email}`,
    `match key: ${profile.match_key ?? 'none'} (CRM_MATCH_KEYS=${profile.match_keys.join(',')})`,
    `app_metadata.crm: ${crmLine(profile.crm)}`,
  ].join(', ');
}

function crmLine(crm: CrmOnProfile): string {
  if (crm.state !== 'present') return crm.state;
  return `${crm.id ?? 'no CRM record'} (synced ${crm.synced_at}, fresh until ${crm.fresh_until})`;
}
