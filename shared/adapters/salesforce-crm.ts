import type { ClaimMapping } from '../domain/claims.ts';
import type { CountryCode } from '../domain/phone.ts';
import { isSameNumber, typedForms } from '../domain/phone-forms.ts';
import { AmbiguousMatch, CrmFailure, type CrmLookup, type CrmRecord } from '../domain/ports.ts';
import type { MatchKey } from '../domain/sync-request.ts';
import { type CrmExchange, exchangeWithCrm, statusFailure } from './crm-exchange.ts';
import type { SalesforceToken } from './salesforce-token.ts';

export interface SalesforceCrmOptions {
  /** The org's My Domain URL. */
  readonly url: string;
  readonly token: SalesforceToken;
  /** The sObject holding people (Contact), and its phone fields (Phone, MobilePhone). */
  readonly object: string;
  readonly phoneFields: readonly string[];
  /** Such as 66.0. */
  readonly apiVersion: string;
  readonly mapping: ClaimMapping;
  /** Where a number typed without a country code is read (DEFAULT_PHONE_COUNTRY). */
  readonly homeCountry?: CountryCode | undefined;
  /** Covers the token (when one is needed) and the query. */
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  readonly clock?: () => number;
}

/**
 * Finds a Contact (or the configured object) with one SOQL query through the REST API
 * (`GET /services/data/vXX.X/query?q=`, https://developer.salesforce.com/docs/platform/
 * api-rest/guide/resources-query.html), selecting only the fields the claim mapping names.
 *
 * Salesforce keeps phone numbers as typed, and SOQL compares text exactly, so a number is asked
 * for in the forms people type it (phone-forms.ts typedForms: "(555) 010-0001", "555-010-0001",
 * "+1 555 010 0001", ...) in each phone field: `Phone IN (...) OR MobilePhone IN (...)`. SOSL
 * would match more loosely, but its index lags: "it could take about 15 minutes or more for the
 * updated text to become searchable" (Salesforce, "Search Architecture"), too late for a person
 * added to the CRM just before their first login. An email is `Email = '...'`, which SOQL
 * compares case-insensitively. Every value is a quoted SOQL literal, escaped (soqlString).
 *
 * The national digits alone are one of those forms, and also another country's number, so each
 * record's phone fields are selected too and read back in the number's country (isSameNumber,
 * as HubSpot's are). An email needs no such check: `LIMIT 2`, since a second record is all it
 * takes to know the key is ambiguous. The record handed on holds the mapped fields only, under
 * the names the mapping spells (SOQL's names are case-insensitive; its JSON keys are not).
 */
export class SalesforceCrm implements CrmLookup {
  private readonly clock: () => number;
  private readonly mapped: readonly (readonly string[])[];
  private readonly queryUrl: string;

  constructor(private readonly options: SalesforceCrmOptions) {
    this.clock = options.clock ?? Date.now;
    const { idPath, fields } = options.mapping;
    this.mapped = [idPath, ...fields.map((f) => f.path)];
    this.queryUrl = `${options.url}/services/data/v${options.apiVersion}/query`;
  }

  async find(key: MatchKey): Promise<CrmRecord | AmbiguousMatch | null> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const url = new URL(this.queryUrl);
    url.searchParams.set('q', this.soql(key));
    const { token } = this.options;
    let access = await token.get(signal);
    let records = await this.query(url, access, signal);
    if (records === 'session_expired') {
      // The session timed out (or was revoked): one new token, one more try, same deadline.
      token.refused(access);
      access = await token.get(signal);
      records = await this.query(url, access, signal);
      if (records === 'session_expired') throw new CrmFailure('auth', 401);
    }
    return this.match(key, records);
  }

  /** The record the key names among those the query found, by the rules above. */
  private match(key: MatchKey, records: readonly CrmRecord[]): CrmRecord | AmbiguousMatch | null {
    const { phoneFields, homeCountry } = this.options;
    const confirmed =
      key.kind === 'email'
        ? records
        : records.filter((record) =>
            phoneFields.some((field) =>
              isSameNumber(fieldOf(record, [field]), key.e164, homeCountry),
            ),
          );
    if (confirmed.length > 1) return new AmbiguousMatch(confirmed.length);
    // As many as the LIMIT, without two confirmed: more may lie beyond it, so no proof either way.
    if (key.kind === 'phone' && records.length >= PHONE_LIMIT) return new AmbiguousMatch(2);
    const [record] = confirmed;
    return record === undefined ? null : this.mappedFields(record);
  }

  /** The mapped fields of a record, under the mapping's spelling of their names. */
  private mappedFields(record: CrmRecord): CrmRecord {
    const out: Record<string, unknown> = {};
    for (const path of this.mapped) {
      const value = fieldOf(record, path);
      if (value === undefined) continue;
      let target = out;
      for (const segment of path.slice(0, -1)) {
        const next = Object.hasOwn(target, segment) ? target[segment] : {};
        target[segment] = next;
        target = next as Record<string, unknown>;
      }
      target[path.at(-1) as string] = value;
    }
    return out;
  }

  /** The query, built from identifiers the configuration checked and escaped literals. */
  soql(key: MatchKey): string {
    const { object, phoneFields } = this.options;
    // Names were checked as SOQL identifiers by the configuration (crm-config.ts).
    const paths = [
      ['Id'],
      ...this.mapped,
      ...(key.kind === 'phone' ? phoneFields.map((f) => [f]) : []),
    ];
    // Once each, whatever its case: SOQL names are case-insensitive, and "the fieldList cannot
    // contain duplicate field names" (SOAP API Developer Guide, "query()").
    const select = [
      ...new Map(paths.map((p) => [p.join('.').toLowerCase(), p.join('.')])).values(),
    ].join(', ');
    if (key.kind === 'email') {
      return `SELECT ${select} FROM ${object} WHERE Email = ${soqlString(key.email)} LIMIT 2`;
    }
    const forms = typedForms(key.e164).map(soqlString).join(', ');
    const where = phoneFields.map((field) => `${field} IN (${forms})`).join(' OR ');
    return `SELECT ${select} FROM ${object} WHERE ${where} LIMIT ${PHONE_LIMIT}`;
  }

  private query(
    url: URL,
    access: string,
    signal: AbortSignal,
  ): Promise<CrmRecord[] | 'session_expired'> {
    const request = {
      method: 'GET',
      headers: { authorization: `Bearer ${access}` },
      signal,
    } as const;
    return exchangeWithCrm(url, request, this.options.maxResponseBytes, (reply) =>
      this.read(reply),
    );
  }

  private async read(reply: CrmExchange): Promise<CrmRecord[] | 'session_expired'> {
    // "401 The session ID or OAuth token used has expired or is invalid" (REST API, "Status
    // Codes and Error Responses", developer.salesforce.com/docs/atlas.en-us.api_rest.meta/
    // api_rest/errorcodes.htm).
    if (reply.status === 401) return 'session_expired';
    if (reply.status === 400 || reply.status === 403) {
      const code = await errorCode(reply);
      // "403 ... If the error code is REQUEST_LIMIT_EXCEEDED, you've exceeded API request
      // limits in your org": back-pressure, not a credential problem.
      // Blocked "until usage for the preceding 24 hours drops below the limit": a long wait.
      if (code === 'REQUEST_LIMIT_EXCEEDED') {
        throw new CrmFailure('rate_limited', 403, REQUEST_LIMIT_BACKOFF_MS);
      }
      // INVALID_FIELD (a mapped field that does not exist, or that field-level security hides
      // from the run-as user), INVALID_TYPE (the object), MALFORMED_QUERY: the configuration.
      if (reply.status === 400) throw new CrmFailure('query_refused', 400);
    }
    const failure = statusFailure(reply, [200], this.clock());
    if (failure) throw failure;
    const page = await reply.json();
    const { records } = page;
    // More than the LIMIT asked for is no answer to this query.
    if (!Array.isArray(records) || records.length > PHONE_LIMIT) {
      throw new CrmFailure('invalid_response');
    }
    for (const record of records) {
      if (typeof record !== 'object' || record === null || Array.isArray(record)) {
        throw new CrmFailure('invalid_response');
      }
    }
    return records as CrmRecord[];
  }
}

/** Candidates a phone lookup reads: the forms asked for may be other countries' numbers too. */
const PHONE_LIMIT = 10;
/** How long a spent daily API allowance holds calls back (the backfill and the breaker). */
const REQUEST_LIMIT_BACKOFF_MS = 15 * 60_000;

/**
 * A field of a record by path, each name matched without regard to case, as SOQL matches
 * them; own properties only, so a `__proto__` key in an answer is inert.
 */
function fieldOf(record: unknown, path: readonly string[]): unknown {
  let current: unknown = record;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return;
    const wanted = segment.toLowerCase();
    const key = Object.keys(current).find((k) => k.toLowerCase() === wanted);
    if (key === undefined) return;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Salesforce's error body: `[{"message", "errorCode"}]`; its first code, or undefined. */
async function errorCode(reply: CrmExchange): Promise<string | undefined> {
  const body = await reply.jsonValue().catch(() => undefined);
  const first = Array.isArray(body) ? (body[0] as { errorCode?: unknown } | undefined) : undefined;
  return typeof first?.errorCode === 'string' ? first.errorCode : undefined;
}

// "Quoted String Escape Sequences" (https://developer.salesforce.com/docs/platform/
// salesforce-soql-sosl/guide/sforce-api-calls-soql-select-quotedstringescapes.html): \n \r \t
// \b \f \" \' \\ are the escapes a literal may hold; "if you use a backslash character in any
// other context, an error occurs". Any other control character is written as \uXXXX, which a
// literal may also hold (an email may carry one; it must not make the query malformed).
const SOQL_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  "'": "\\'",
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/** A SOQL string literal: the value quoted, with every character SOQL reserves escaped. */
export function soqlString(value: string): string {
  let escaped = '';
  for (const c of value) {
    const code = c.charCodeAt(0);
    const control = code < 0x20 || (code >= 0x7f && code <= 0x9f);
    escaped += SOQL_ESCAPES[c] ?? (control ? `\\u${code.toString(16).padStart(4, '0')}` : c);
  }
  return `'${escaped}'`;
}
