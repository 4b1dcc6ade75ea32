import type { ClaimMapping } from '../domain/claims.ts';
import type { CountryCode } from '../domain/phone.ts';
import { isSameNumber, nationalNumber } from '../domain/phone-forms.ts';
import { AmbiguousMatch, CrmFailure, type CrmLookup, type CrmRecord } from '../domain/ports.ts';
import type { MatchKey } from '../domain/sync-request.ts';
import {
  beforeDeadline,
  type CrmExchange,
  exchangeWithCrm,
  statusFailure,
} from './crm-exchange.ts';
import { retryAfterMs } from './retry-after.ts';

export interface HubSpotCrmOptions {
  /** The API's base, https://api.hubapi.com. */
  readonly url: string;
  /** The private app's access token, read per call through a cache (rotation needs no deploy). */
  readonly token: () => Promise<string>;
  /** Called when HubSpot refuses the token (401, or 403 for a missing scope). */
  readonly onUnauthorized?: () => void;
  /** Covers every page of the search and the token's read. */
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  /** The claim mapping: only the properties it names are asked for. */
  readonly mapping: ClaimMapping;
  /** Where a number typed without a country code is read (DEFAULT_PHONE_COUNTRY). */
  readonly homeCountry?: CountryCode | undefined;
  readonly clock?: () => number;
}

// The contact properties HubSpot computes from `phone` and `mobilephone` for searching: "HubSpot
// uses special calculated properties to standardize the format. These properties all start with
// hs_searchable_calculated_* ... HubSpot only uses the area code and local number. You should
// refrain from including the country code" (https://developers.hubspot.com/docs/api-reference/
// latest/crm/search-the-crm, "Search by phone number"). That they hold the national number's
// digits, and that filters may name them, is read from that page and HubSpot's property labels
// ("Phone number without country code"), not tested against a portal: hence the E.164 groups
// beside them, and the read-back of every candidate's own number.
const SEARCHABLE_PHONE = {
  phone: 'hs_searchable_calculated_phone_number',
  mobilephone: 'hs_searchable_calculated_mobile_number',
} as const;

/**
 * Candidates per page: national digits may be shared across countries, so more than 2; one
 * page almost always, since each is a request against the search API's 5 a second per account
 * (a page holds up to 200: "The maximum number of supported objects per page is 200").
 */
const PAGE_SIZE = 100;
/** Pages read at most: 200 candidates for one national number is already no answer. */
const MAX_PAGES = 2;
/**
 * Search answers carry none of the X-HubSpot-RateLimit-* headers ("Responses from the search API
 * endpoints will not include any of the rate limit headers", developers.hubspot.com/docs/api/
 * usage-details), and a 429 need not carry Retry-After: the search limit is per second, so a
 * 429 without one holds this instance's calls back for one second; a daily limit for longer.
 */
const SECONDLY_BACKOFF_MS = 1_000;
const DAILY_BACKOFF_MS = 15 * 60_000;

/**
 * Finds a contact through HubSpot's CRM v3 search API (`POST /crm/v3/objects/contacts/search`)
 * with a private app's token. A phone number is searched as its national digits in the
 * calculated searchable properties, and each candidate's own `phone` or `mobilephone` is read
 * back in the number's country, so the same digits in another country never match. An email is
 * an `EQ` filter on `email` (case-insensitive in HubSpot's filters). The claim mapping's paths
 * name contact properties; the record handed on is the contact's `properties`. Two contacts for
 * one key are an AmbiguousMatch. The answer is bounded like every CRM's (crm-exchange.ts).
 */
export class HubSpotCrm implements CrmLookup {
  private readonly clock: () => number;
  private readonly searchUrl: URL;
  private readonly mapped: readonly string[];

  constructor(private readonly options: HubSpotCrmOptions) {
    this.clock = options.clock ?? Date.now;
    this.searchUrl = new URL(`${options.url}/crm/v3/objects/contacts/search`);
    const { idPath, fields } = options.mapping;
    this.mapped = [...new Set([idPath, ...fields.map((f) => f.path)].map((p) => p[0] as string))];
  }

  async find(key: MatchKey): Promise<CrmRecord | AmbiguousMatch | null> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const token = await beforeDeadline(this.options.token(), signal);
    const search = this.searchFor(key);
    if (search === undefined) return null;
    // By id: `after` is an offset, so a contact changed between two pages may come twice.
    const confirmed = new Map<string, CrmRecord>();
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const body = JSON.stringify({ ...search.body, ...(after ? { after } : {}) });
      const request = {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
        signal,
      } as const;
      const answer = await exchangeWithCrm(
        this.searchUrl,
        request,
        this.options.maxResponseBytes,
        (reply) => this.readPage(reply),
      );
      for (const contact of answer.contacts) {
        if (search.confirms(contact)) confirmed.set(contact.hs_object_id as string, contact);
      }
      if (confirmed.size > 1) return new AmbiguousMatch(confirmed.size);
      after = answer.after;
      if (after === undefined) return confirmed.values().next().value ?? null;
    }
    // More candidates than we read (the digits of many numbers in many countries): neither the
    // one found so far nor none is proof, so no record is linked, as for any ambiguity.
    return new AmbiguousMatch(2);
  }

  private searchFor(key: MatchKey):
    | {
        body: Record<string, unknown>;
        confirms: (contact: CrmRecord) => boolean;
      }
    | undefined {
    const base = {
      limit: PAGE_SIZE,
      sorts: [{ propertyName: 'hs_object_id', direction: 'ASCENDING' }],
    };
    if (key.kind === 'email') {
      return {
        body: {
          ...base,
          filterGroups: [
            { filters: [{ propertyName: 'email', operator: 'EQ', value: key.email }] },
          ],
          properties: [...new Set([...this.mapped, 'hs_object_id', 'email'])],
        },
        confirms: (contact) =>
          typeof contact.email === 'string' && contact.email.toLowerCase() === key.email,
      };
    }
    const national = nationalNumber(key.e164);
    if (national === undefined) return undefined;
    const typed = Object.keys(SEARCHABLE_PHONE);
    return {
      body: {
        ...base,
        // Filter groups are ORed (at most 5): the national digits in the calculated searchable
        // properties, and the number in E.164 as typed, which portals with phone number
        // validation store ("Phone number property validation", knowledge.hubspot.com): a
        // portal whose calculated properties held another format would still find those.
        filterGroups: [
          ...Object.values(SEARCHABLE_PHONE).map((propertyName) => ({
            filters: [{ propertyName, operator: 'EQ', value: national.digits }],
          })),
          ...typed.map((propertyName) => ({
            filters: [{ propertyName, operator: 'EQ', value: key.e164 }],
          })),
        ],
        properties: [...new Set([...this.mapped, 'hs_object_id', ...typed])],
      },
      confirms: (contact) =>
        typed.some((name) => isSameNumber(contact[name], key.e164, this.options.homeCountry)),
    };
  }

  private async readPage(
    reply: CrmExchange,
  ): Promise<{ contacts: CrmRecord[]; after: string | undefined }> {
    if (reply.status === 429) throw await this.rateLimited(reply);
    // VALIDATION_ERROR: the search itself was refused (a property that does not exist).
    if (reply.status === 400) throw new CrmFailure('query_refused', 400);
    const failure = statusFailure(reply, [200], this.clock(), this.options.onUnauthorized);
    if (failure) throw failure;
    const page = await reply.json();
    const results = page.results;
    // More than asked for is no answer to this search (and would cost CPU the deadline cannot
    // stop: each candidate's number is parsed).
    if (!Array.isArray(results) || results.length > PAGE_SIZE) {
      throw new CrmFailure('invalid_response');
    }
    const contacts = results.map((result: unknown): CrmRecord => {
      const contact = result as { id?: unknown; properties?: unknown };
      const properties = contact?.properties;
      if (
        typeof contact?.id !== 'string' ||
        typeof properties !== 'object' ||
        properties === null ||
        Array.isArray(properties)
      ) {
        throw new CrmFailure('invalid_response');
      }
      // hs_object_id is the record's id; it is asked for, and filled in should HubSpot omit it.
      return { ...(properties as CrmRecord), hs_object_id: contact.id };
    });
    const next = (page.paging as { next?: { after?: unknown } } | undefined)?.next;
    if (next === undefined) return { contacts, after: undefined };
    // A next page that cannot be asked for is no last page: ending here could link the one
    // contact read while its twin waits on that page. The spec's cursor is a string; a
    // whole number is taken as one.
    const after = next.after;
    if (typeof after === 'string' && after !== '') return { contacts, after };
    if (Number.isSafeInteger(after) && (after as number) >= 0) {
      return { contacts, after: String(after) };
    }
    throw new CrmFailure('invalid_response');
  }

  /**
   * A 429: HubSpot's back-pressure. Its Retry-After when it sent one; otherwise the limit its
   * body names (`policyName`, https://developers.hubspot.com/docs/api/usage-details): a daily
   * one holds calls back for longer than a second's.
   */
  private async rateLimited(reply: CrmExchange): Promise<CrmFailure> {
    const asked = retryAfterMs(reply.header('retry-after'), this.clock());
    if (asked !== undefined) return new CrmFailure('rate_limited', 429, asked);
    const body = await reply.json().catch(() => ({}) as Record<string, unknown>);
    const daily = typeof body.policyName === 'string' && body.policyName.toUpperCase() === 'DAILY';
    return new CrmFailure('rate_limited', 429, daily ? DAILY_BACKOFF_MS : SECONDLY_BACKOFF_MS);
  }
}
