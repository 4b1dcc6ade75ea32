import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Reply, readBody, send } from '../auth0-management-api/http.ts';
import {
  demoHubSpotContacts,
  type HubSpotContact,
  HubSpotContactStore,
  type HubSpotFilter,
  passes,
  SUPPORTED_OPERATORS,
} from './contacts.ts';

/** The private app token of the demo portal (`CRM_KIND=hubspot npm start`): local only. */
export const DEMO_HUBSPOT_TOKEN = 'pat-na1-demo-0000-local';
/** The scope the search needs (the contacts spec's security requirement for search). */
export const CONTACTS_READ_SCOPE = 'crm.objects.contacts.read';

const SEARCH_PATH = '/crm/v3/objects/contacts/search';
// "The search endpoints are rate limited to five requests per second per account" (Search the
// CRM, "Limitations").
const SEARCHES_PER_SECOND = 5;
// "a maximum of five filterGroups with up to 6 filters in each group, with a maximum of 18
// filters in total"; "The maximum number of supported objects per page is 200"; "limited to
// 10,000 total results for any given query" (Search the CRM, "Limitations" and "Paging").
const MAX_GROUPS = 5;
const MAX_FILTERS_PER_GROUP = 6;
const MAX_FILTERS = 18;
const MAX_LIMIT = 200;
const MAX_RESULTS = 10_000;

export interface HubSpotSearchRequest {
  readonly headers: IncomingHttpHeaders;
  readonly body: Record<string, unknown>;
}

/** A fault a test asks for on the next search: what a portal under load answers. */
export interface HubSpotFault {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

export interface HubSpotApi {
  readonly url: string;
  readonly contacts: HubSpotContactStore;
  /** Searches received, answered or not. */
  readonly searches: HubSpotSearchRequest[];
  /** A token the portal accepts, with its scopes. */
  grant(token: string, scopes?: readonly string[]): void;
  /** A token revoked or rotated in HubSpot: every call with it is refused (401). */
  revoke(token: string): void;
  /** Answers the next searches with these faults, in order, before serving normally again. */
  failNext(...faults: HubSpotFault[]): void;
  close(): Promise<void>;
}

/**
 * HubSpot's CRM v3 contacts search on a real socket: Bearer private app tokens with scopes,
 * validation errors as HubSpot words them, paging by `after`, the search API's own rate limit
 * (5 per second per account, answered 429 without rate-limit headers or Retry-After, since
 * "Responses from the search API endpoints will not include any of the rate limit headers",
 * https://developers.hubspot.com/docs/api/usage-details) and search results that lag changes.
 */
export async function startHubSpotApi(
  options: {
    port?: number;
    clock?: () => number;
    /** The demo portal's contacts (the sample people); none by default. */
    demo?: boolean;
    token?: string;
  } = {},
): Promise<HubSpotApi> {
  const clock = options.clock ?? Date.now;
  const contacts = new HubSpotContactStore(clock);
  if (options.demo) for (const properties of demoHubSpotContacts()) contacts.create(properties);
  const tokens = new Map<string, readonly string[]>([
    [options.token ?? DEMO_HUBSPOT_TOKEN, [CONTACTS_READ_SCOPE]],
  ]);
  const searches: HubSpotSearchRequest[] = [];
  const faults: HubSpotFault[] = [];
  const recent: number[] = [];

  const answer = (headers: IncomingHttpHeaders, body: Record<string, unknown>): Reply => {
    const token = /^Bearer (\S+)$/.exec(headers.authorization ?? '')?.[1];
    const scopes = token === undefined ? undefined : tokens.get(token);
    // The error shape of the spec's Error schema: status, message, correlationId, category. The
    // categories are as public client code uses them (INVALID_AUTHENTICATION, MISSING_SCOPES),
    // not read on a HubSpot page: the adapter decides on the status alone.
    if (scopes === undefined) {
      return hubSpotError(401, 'INVALID_AUTHENTICATION', 'Authentication credentials not found.');
    }
    if (!scopes.includes(CONTACTS_READ_SCOPE)) {
      return hubSpotError(
        403,
        'MISSING_SCOPES',
        "This app hasn't been granted all required scopes to make this call.",
      );
    }
    const now = clock();
    while (recent.length > 0 && (recent[0] as number) <= now - 1_000) recent.shift();
    if (recent.length >= SEARCHES_PER_SECOND) {
      // The documented 429 body's shape ("Rate limits", usage-details: errorType RATE_LIMIT and a
      // policyName naming the limit; the page's example names DAILY, SECONDLY is this stand-in's
      // name for the per-second one), with no headers at all.
      return {
        status: 429,
        body: {
          status: 'error',
          message: 'You have reached your secondly limit.',
          errorType: 'RATE_LIMIT',
          correlationId: randomUUID(),
          policyName: 'SECONDLY',
        },
      };
    }
    recent.push(now);
    return search(contacts.searchable(), body);
  };

  const server: Server = createServer(async (req, res) => {
    const raw = await readBody(req).catch(() => undefined);
    if (req.method !== 'POST' || req.url !== SEARCH_PATH) {
      return send(res, hubSpotError(404, 'OBJECT_NOT_FOUND', 'resource not found'));
    }
    let body: unknown;
    try {
      body = JSON.parse(raw ?? '');
    } catch {
      body = undefined;
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return send(res, hubSpotError(400, 'VALIDATION_ERROR', 'Invalid input JSON on line 1'));
    }
    searches.push({ headers: req.headers, body: body as Record<string, unknown> });
    const fault = faults.shift();
    if (fault)
      return send(res, {
        status: fault.status,
        headers: fault.headers ?? {},
        body: fault.body ?? {},
      });
    send(res, answer(req.headers, body as Record<string, unknown>));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    contacts,
    searches,
    grant: (token, scopes = [CONTACTS_READ_SCOPE]) => void tokens.set(token, scopes),
    revoke: (token) => void tokens.delete(token),
    failNext: (...more) => void faults.push(...more),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function search(all: HubSpotContact[], body: Record<string, unknown>): Reply {
  const groups = body.filterGroups ?? [];
  if (!Array.isArray(groups) || groups.length > MAX_GROUPS) {
    return validation(`filterGroups: at most ${MAX_GROUPS} groups`);
  }
  let filterCount = 0;
  for (const group of groups) {
    const filters = (group as { filters?: unknown })?.filters;
    if (!Array.isArray(filters) || filters.length > MAX_FILTERS_PER_GROUP) {
      return validation(`filters: at most ${MAX_FILTERS_PER_GROUP} per group`);
    }
    filterCount += filters.length;
    for (const filter of filters as HubSpotFilter[]) {
      if (typeof filter?.propertyName !== 'string' || !SUPPORTED_OPERATORS.has(filter.operator)) {
        return validation('filters: each needs a propertyName and a known operator');
      }
    }
  }
  if (filterCount > MAX_FILTERS) return validation(`at most ${MAX_FILTERS} filters in all`);
  const limit = body.limit ?? 10;
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_LIMIT) {
    return validation(`limit: from 1 to ${MAX_LIMIT}`);
  }
  // "You must format the value in the after parameter as an integer" (Search the CRM, Paging).
  const after = body.after === undefined ? 0 : Number(body.after);
  if (!Number.isInteger(after) || after < 0) return validation('after: must be an integer');
  if (after + (limit as number) > MAX_RESULTS) return validation('paging past 10,000 results');
  const properties = body.properties;
  if (
    properties !== undefined &&
    (!Array.isArray(properties) || properties.some((p) => typeof p !== 'string'))
  ) {
    return validation('properties: a list of property names');
  }
  const matching = all.filter(
    (contact) =>
      groups.length === 0 ||
      groups.some((group) =>
        (group as { filters: HubSpotFilter[] }).filters.every((f) => passes(contact, f)),
      ),
  );
  const page = matching.slice(after, after + (limit as number));
  // Without `properties`, the defaults the guide lists for contacts; with it, those asked for
  // (each `null` when the contact has no value) and the three HubSpot's examples always show.
  // The `null` is not documented (the spec types values as strings): the adapter takes a
  // missing property and a null one alike.
  const names = (properties as string[] | undefined) ?? [
    'createdate',
    'email',
    'firstname',
    'hs_object_id',
    'lastmodifieddate',
    'lastname',
  ];
  const next = after + page.length;
  return {
    status: 200,
    body: {
      total: matching.length,
      results: page.map((contact) => ({
        id: contact.id,
        properties: Object.fromEntries(
          [...new Set([...names, 'createdate', 'hs_object_id', 'lastmodifieddate'])].map((name) => [
            name,
            contact.properties[name] ?? null,
          ]),
        ),
        createdAt: contact.createdAt,
        updatedAt: contact.updatedAt,
        archived: false,
      })),
      ...(next < matching.length ? { paging: { next: { after: String(next) } } } : {}),
    },
  };
}

function validation(message: string): Reply {
  return hubSpotError(400, 'VALIDATION_ERROR', message);
}

function hubSpotError(status: number, category: string, message: string): Reply {
  return { status, body: { status: 'error', message, correlationId: randomUUID(), category } };
}
