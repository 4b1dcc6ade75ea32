import type { ClaimMapping } from '../domain/claims.ts';
import { typedForms } from '../domain/phone-forms.ts';
import { AmbiguousMatch, CrmFailure, type CrmLookup, type CrmRecord } from '../domain/ports.ts';
import type { MatchKey } from '../domain/sync-request.ts';
import {
  beforeDeadline,
  type CrmExchange,
  exchangeWithCrm,
  statusFailure,
} from './crm-exchange.ts';
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
 * `LIMIT 2`: a second record is all it takes to know the key is ambiguous.
 */
export class SalesforceCrm implements CrmLookup {
  private readonly clock: () => number;
  private readonly select: string;
  private readonly queryUrl: string;

  constructor(private readonly options: SalesforceCrmOptions) {
    this.clock = options.clock ?? Date.now;
    const { idPath, fields } = options.mapping;
    // Names were checked as SOQL identifiers by the configuration (crm-config.ts).
    const paths = [['Id'], idPath, ...fields.map((f) => f.path)].map((p) => p.join('.'));
    this.select = [...new Set(paths)].join(', ');
    this.queryUrl = `${options.url}/services/data/v${options.apiVersion}/query`;
  }

  async find(key: MatchKey): Promise<CrmRecord | AmbiguousMatch | null> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const url = new URL(this.queryUrl);
    url.searchParams.set('q', this.soql(key));
    const { token } = this.options;
    let access = await token.get(signal);
    let answer = await this.query(url, access, signal);
    if (answer === 'session_expired') {
      // The session timed out (or was revoked): one new token, one more try, same deadline.
      token.refused(access);
      access = await beforeDeadline(token.get(signal), signal);
      answer = await this.query(url, access, signal);
      if (answer === 'session_expired') throw new CrmFailure('auth', 401);
    }
    return answer;
  }

  /** The query, built from identifiers the configuration checked and escaped literals. */
  soql(key: MatchKey): string {
    const { object, phoneFields } = this.options;
    let where: string;
    if (key.kind === 'email') {
      where = `Email = ${soqlString(key.email)}`;
    } else {
      const forms = typedForms(key.e164).map(soqlString).join(', ');
      where = phoneFields.map((field) => `${field} IN (${forms})`).join(' OR ');
    }
    return `SELECT ${this.select} FROM ${object} WHERE ${where} LIMIT 2`;
  }

  private query(
    url: URL,
    access: string,
    signal: AbortSignal,
  ): Promise<CrmRecord | AmbiguousMatch | null | 'session_expired'> {
    const request = {
      method: 'GET',
      headers: { authorization: `Bearer ${access}` },
      signal,
    } as const;
    return exchangeWithCrm(url, request, this.options.maxResponseBytes, (reply) =>
      this.read(reply),
    );
  }

  private async read(
    reply: CrmExchange,
  ): Promise<CrmRecord | AmbiguousMatch | null | 'session_expired'> {
    // "401 The session ID or OAuth token used has expired or is invalid" (REST API, "Status
    // Codes and Error Responses", developer.salesforce.com/docs/atlas.en-us.api_rest.meta/
    // api_rest/errorcodes.htm).
    if (reply.status === 401) return 'session_expired';
    if (reply.status === 400 || reply.status === 403) {
      const code = await errorCode(reply);
      // "403 ... If the error code is REQUEST_LIMIT_EXCEEDED, you've exceeded API request
      // limits in your org": back-pressure, not a credential problem.
      if (code === 'REQUEST_LIMIT_EXCEEDED') throw new CrmFailure('rate_limited', 403);
      // INVALID_FIELD (a mapped field that does not exist, or that field-level security hides
      // from the run-as user), INVALID_TYPE (the object), MALFORMED_QUERY: the configuration.
      if (reply.status === 400) throw new CrmFailure('query_refused', 400);
    }
    const failure = statusFailure(reply, [200], this.clock());
    if (failure) throw failure;
    const page = await reply.json();
    const { records, totalSize } = page;
    if (!Array.isArray(records) || typeof totalSize !== 'number') {
      throw new CrmFailure('invalid_response');
    }
    for (const record of records) {
      if (typeof record !== 'object' || record === null || Array.isArray(record)) {
        throw new CrmFailure('invalid_response');
      }
    }
    const matches = Math.max(totalSize, records.length);
    if (matches > 1) return new AmbiguousMatch(matches);
    return (records[0] as CrmRecord | undefined) ?? null;
  }
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
// other context, an error occurs", so nothing else is escaped. Other control characters have
// no escape here and never reach a query (a match key holds none, sync-request.ts).
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
  return `'${value.replace(/[\\'"\n\r\t\b\f]/g, (c) => SOQL_ESCAPES[c] as string)}'`;
}
