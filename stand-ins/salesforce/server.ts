import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Reply, readBody, send } from '../auth0-management-api/http.ts';
import { SalesforceOrg, type SalesforceRecord } from './org.ts';
import { MalformedQuery, parseSoql } from './soql.ts';

/** The demo org's connected app (`CRM_KIND=salesforce npm start`): local only. */
export const DEMO_SALESFORCE_APP = {
  client_id: '3MVG9demo.local.connected.app',
  client_secret: 'demo-salesforce-consumer-secret',
} as const;

export interface SalesforceRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The SOQL of a query request. */
  readonly soql?: string;
}

export interface SalesforceFault {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

export interface SalesforceApi {
  readonly url: string;
  readonly org: SalesforceOrg;
  readonly requests: SalesforceRequest[];
  /** Tokens issued so far. */
  tokensIssued(): number;
  /** Every session ends (a timeout, or an admin revoking them): each token answers 401. */
  expireSessions(): void;
  /** Answers the next API (not token) requests with these, in order. */
  failNext(...faults: SalesforceFault[]): void;
  close(): Promise<void>;
}

/**
 * A Salesforce org's OAuth token endpoint and REST query resource on a real socket, built from
 * Salesforce's documentation (each behaviour cites its page; where a detail comes from public
 * client code or third-party pages instead, it says so below):
 * - `POST /services/oauth2/token`, client-credentials flow, form-encoded; a token "on behalf of
 *   the integration user" only when a run-as user is set ("OAuth 2.0 Client Credentials Flow for
 *   Server-to-Server Integration"); the answer has no expires_in and no refresh token;
 * - sessions end after `sessionTimeoutMs` without a call ("The session timeout value in Setup
 *   governs the expiration of access tokens"; each call resets it), answered 401
 *   `INVALID_SESSION_ID` ("Status Codes and Error Responses");
 * - `GET /services/data/vXX.X/query?q=` ("Query", resources-query.html): records with their
 *   `attributes`, `totalSize`, `done`; unknown or field-level-security-hidden fields are
 *   400 INVALID_FIELD, an unknown object INVALID_TYPE, bad SOQL MALFORMED_QUERY;
 * - the org's daily API allowance, reported in `Sforce-Limit-Info: api-usage=n/limit` and, once
 *   spent, 403 REQUEST_LIMIT_EXCEEDED ("API Request Limits and Allocations");
 * - versions 31.0 to 68.0 (Winter '27); any other is 404 NOT_FOUND.
 */
export async function startSalesforceApi(
  options: {
    port?: number;
    clock?: () => number;
    demo?: boolean;
    app?: { client_id: string; client_secret: string };
    /** No run-as user on the connected app: the token request is refused. */
    withoutRunAsUser?: boolean;
    sessionTimeoutMs?: number;
    dailyApiLimit?: number;
  } = {},
): Promise<SalesforceApi> {
  const clock = options.clock ?? Date.now;
  const app = options.app ?? DEMO_SALESFORCE_APP;
  const org = new SalesforceOrg();
  if (options.demo) org.seedDemo();
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 2 * 60 * 60_000;
  const dailyLimit = options.dailyApiLimit ?? 15_000;
  const sessions = new Map<string, { lastUsed: number }>();
  const requests: SalesforceRequest[] = [];
  const faults: SalesforceFault[] = [];
  let apiCalls = 0;
  let issued = 0;
  let origin = '';

  const token = (form: URLSearchParams): Reply => {
    // OAuth 2.0's error shape (RFC 6749 §5.2). The codes and descriptions are those public
    // integrations report from Salesforce, not read on a Salesforce page; the adapter decides on
    // the status (400) alone.
    const oauthError = (error: string, description: string): Reply => ({
      status: 400,
      body: { error, error_description: description },
    });
    if (form.get('grant_type') !== 'client_credentials') {
      return oauthError('unsupported_grant_type', 'grant type not supported');
    }
    if (form.get('client_id') !== app.client_id) {
      return oauthError('invalid_client_id', 'client identifier invalid');
    }
    if (form.get('client_secret') !== app.client_secret) {
      return oauthError('invalid_client', 'invalid client credentials');
    }
    if (options.withoutRunAsUser)
      return oauthError('invalid_grant', 'no client credentials user enabled');
    const accessToken = `00Dlocal!${randomBytes(24).toString('base64url')}`;
    sessions.set(accessToken, { lastUsed: clock() });
    issued++;
    return {
      status: 200,
      body: {
        access_token: accessToken,
        signature: randomBytes(32).toString('base64'),
        scope: 'api',
        instance_url: origin,
        id: `${origin}/id/00Dlocal000000001/005local000000001`,
        token_type: 'Bearer',
        issued_at: String(clock()),
      },
    };
  };

  const api = (headers: IncomingHttpHeaders, path: string, query: URLSearchParams): Reply => {
    const bearer = /^Bearer (\S+)$/.exec(headers.authorization ?? '')?.[1];
    const session = bearer === undefined ? undefined : sessions.get(bearer);
    if (!session || clock() - session.lastUsed > sessionTimeoutMs) {
      if (bearer) sessions.delete(bearer);
      // The status and errorCode are documented; the message is as integrations quote it.
      return sfError(401, 'INVALID_SESSION_ID', 'Session expired or invalid');
    }
    session.lastUsed = clock();
    const version = /^\/services\/data\/v(\d+\.0)\/query\/?$/.exec(path)?.[1];
    if (version === undefined || Number(version) < 31 || Number(version) > 68) {
      return sfError(404, 'NOT_FOUND', 'The requested resource does not exist');
    }
    if (apiCalls >= dailyLimit) {
      return sfError(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.');
    }
    apiCalls++;
    const usage = { 'sforce-limit-info': `api-usage=${apiCalls}/${dailyLimit}` };
    let parsed: ReturnType<typeof parseSoql>;
    try {
      parsed = parseSoql(query.get('q') ?? '');
    } catch (error) {
      if (!(error instanceof MalformedQuery)) throw error;
      return { ...sfError(400, 'MALFORMED_QUERY', error.message), headers: usage };
    }
    const result = org.query(parsed, version);
    if ('errorCode' in result)
      return { ...sfError(400, result.errorCode, result.message), headers: usage };
    return { status: 200, headers: usage, body: result };
  };

  const server: Server = createServer(async (req, res) => {
    const raw = (await readBody(req).catch(() => undefined)) ?? '';
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const soql = url.searchParams.get('q') ?? undefined;
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      headers: req.headers,
      ...(soql ? { soql } : {}),
    });
    if (req.method === 'POST' && url.pathname === '/services/oauth2/token') {
      return send(res, token(new URLSearchParams(raw)));
    }
    if (req.method !== 'GET')
      return send(res, sfError(405, 'METHOD_NOT_ALLOWED', 'HTTP Method not allowed'));
    const fault = faults.shift();
    if (fault)
      return send(res, {
        status: fault.status,
        headers: fault.headers ?? {},
        body: fault.body ?? [],
      });
    send(res, api(req.headers, url.pathname, url.searchParams));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    org,
    requests,
    tokensIssued: () => issued,
    expireSessions: () => sessions.clear(),
    failNext: (...more) => void faults.push(...more),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** REST API errors are a list: `[{"message", "errorCode"}]`. */
function sfError(status: number, errorCode: string, message: string): Reply {
  return { status, body: [{ message, errorCode }] };
}

export type { SalesforceRecord };
