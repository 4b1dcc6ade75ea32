import { SyncApiError } from './errors.ts';
import { normalisePhoneNumber } from './phone.ts';
import {
  hasControlCharacter,
  type MatchKey,
  normaliseEmail,
  type RequestPolicy,
} from './sync-request.ts';

/** The change events the service acts on (docs/sync-api.md, POST /v1/crm-events). */
export const CRM_EVENT_TYPES = ['contact.updated', 'contact.deleted', 'contact.merged'] as const;
export type CrmEventType = (typeof CRM_EVENT_TYPES)[number];

/** At most this many events in one request, and this many bytes of body. */
export const MAX_EVENTS_PER_REQUEST = 100;
export const MAX_EVENTS_BODY_BYTES = 256 * 1024;

/** An event id is remembered at least this long: a redelivery within it has no effect. */
export const EVENT_ID_RETENTION_DAYS = 7;

/**
 * One event as read from the body. Only the ids are believed: `hints` (the keys of the phone
 * number and email the event names) only say where else to look for affected users, and the
 * CRM is asked for the record either way, so a stale or forged event changes no data.
 */
export type CrmEvent =
  | {
      readonly id: string;
      readonly type: CrmEventType;
      readonly crmId: string;
      /** Of `contact.merged`: the contact that remains. */
      readonly mergedInto?: string;
      readonly hints: readonly MatchKey[];
    }
  | { readonly id: string; readonly type: 'unknown' };

const MAX_ID_LENGTH = 256;

/**
 * Reads the body of POST /v1/crm-events, or throws the contract's 400 naming the first bad
 * event by its index. Unknown fields are ignored; an event of a type not listed is kept as
 * `unknown` (accepted and ignored: a CRM sends more kinds of event than the service needs).
 * A phone number or email that cannot be read is no reason to refuse the event: it is a hint,
 * and the event's ids still say whom it concerns.
 */
export function readCrmEvents(body: unknown, policy: RequestPolicy): CrmEvent[] {
  if (!isObject(body) || !Array.isArray(body.events)) {
    throw invalid('the body must be a JSON object with an "events" array');
  }
  const { events } = body;
  if (events.length < 1 || events.length > MAX_EVENTS_PER_REQUEST) {
    throw invalid(`"events" must hold 1 to ${MAX_EVENTS_PER_REQUEST} events`);
  }
  return events.map((event, index) => readEvent(event, index, policy));
}

function readEvent(event: unknown, index: number, policy: RequestPolicy): CrmEvent {
  const at = `events[${index}]`;
  if (!isObject(event)) throw invalid(`${at} must be a JSON object`);
  const id = event.id;
  if (!isId(id)) throw invalid(`${at}.id ${ID_RULE}`);
  const type = event.type;
  if (typeof type !== 'string' || type.length === 0 || type.length > 64) {
    throw invalid(`${at}.type must be a string of 1 to 64 characters`);
  }
  if (!(CRM_EVENT_TYPES as readonly string[]).includes(type)) return { id, type: 'unknown' };
  const crmId = contactId(event.crm_id);
  if (crmId === undefined) throw invalid(`${at}.crm_id ${CONTACT_ID_RULE}`);
  let mergedInto: string | undefined;
  if (type === 'contact.merged') {
    mergedInto = contactId(event.merged_into);
    if (mergedInto === undefined) {
      throw invalid(
        `${at}.merged_into ${CONTACT_ID_RULE} (a contact.merged event names the contact kept)`,
      );
    }
    if (mergedInto === crmId) throw invalid(`${at}.merged_into must differ from crm_id`);
  }
  return {
    id,
    type: type as CrmEventType,
    crmId,
    ...(mergedInto === undefined ? {} : { mergedInto }),
    hints: hintsOf(event, policy),
  };
}

/** The match keys an event names, normalised as a login's are, for the keys the deployment uses. */
function hintsOf(event: Record<string, unknown>, policy: RequestPolicy): MatchKey[] {
  const hints: MatchKey[] = [];
  // Anything else (a number, an object, an overlong string) is no hint, and no reason to
  // refuse the event: its ids still say whom it concerns.
  const usable = (value: unknown): value is string =>
    typeof value === 'string' && value.length <= 320 && value.isWellFormed();
  const phone = event.phone_number;
  if (policy.matchKeys.includes('phone') && usable(phone)) {
    const parsed = normalisePhoneNumber(phone, policy.defaultPhoneCountry);
    if (parsed.ok) hints.push({ kind: 'phone', e164: parsed.e164 });
  }
  const email = event.email;
  if (policy.matchKeys.includes('email') && usable(email)) {
    const normalised = normaliseEmail(email);
    if (normalised !== undefined) hints.push({ kind: 'email', email: normalised });
  }
  return hints;
}

const ID_RULE =
  'must be a string of 1 to 256 characters of well-formed text without control characters';
const CONTACT_ID_RULE = `${ID_RULE}, or a whole number`;

/**
 * A contact's id as the stamps hold it: a CRM whose ids are numbers sends them as JSON
 * numbers, and readCrmId (claims.ts) keeps those as their decimal text.
 */
function contactId(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : undefined;
  return isId(value) ? value : undefined;
}

function isId(value: unknown): value is string {
  if (typeof value !== 'string' || value.length < 1 || value.length > MAX_ID_LENGTH) return false;
  return value.isWellFormed() && !hasControlCharacter(value);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): SyncApiError {
  return new SyncApiError('invalid_request', message);
}
