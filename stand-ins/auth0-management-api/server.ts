import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManagementClient } from 'auth0';
import { createActions, type SeedAction } from './actions.ts';
import { createFaults, type FaultReply } from './faults.ts';
import {
  error,
  errorBody,
  invalid,
  notFound,
  parseBody,
  type Route,
  readBody,
  safeDecode,
  send,
} from './http.ts';
import { createTokenIssuer } from './oauth-token.ts';
import { createRateLimit, type RateLimitSetting } from './rate-limits.ts';
import { refuseScope } from './scopes.ts';
import { type Action, type Binding, createTenant, type ExportJob, type User } from './tenant.ts';
import { createTriggerBindings } from './trigger-bindings.ts';
import { createUserExports } from './user-exports.ts';
import { createUsers } from './users.ts';

/**
 * The Auth0 Management API on a local socket, speaking its wire protocol well enough for the
 * real `auth0` v7 ManagementClient (pointed here through its `fetch` option): the client
 * credentials token, Actions with their asynchronous build and deploy, the post-login trigger
 * bindings, user app_metadata updates and user export jobs whose file is streamed as gzipped
 * NDJSON. Its state is plain maps and arrays a test can seed and inspect, and it can be made
 * to fail (`failNext`) or to rate-limit (`setRateLimit`) like the real tenant.
 *
 * This file is the entry point: the HTTP server, the order a request is handled in, and the
 * `ManagementApi` handle; each concern's routes live in the file named after it.
 */

export type { SeedAction } from './actions.ts';
export type { FaultReply } from './faults.ts';
export type {
  Action,
  ActionDependency,
  ActionSecret,
  ActionTrigger,
  ActionVersion,
  Binding,
  BuildStatus,
  ExportField,
  ExportJob,
  User,
} from './tenant.ts';

export interface RecordedRequest {
  method: string;
  /** Percent-decoded, e.g. `/api/v2/users/sms|user-1`. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON or form body; `undefined` when there was none. */
  body: unknown;
  headers: IncomingHttpHeaders;
}

export interface ManagementApiOptions {
  domain?: string;
  clientId?: string;
  clientSecret?: string;
  /** The GET that answers 'built' after a create or update is the buildPolls-th (default 1). */
  buildPolls?: number;
  /**
   * The GET of an action that finds its deploy live (its `deployed_version`, and bindable) is
   * the deployPolls-th after the deploy; until then a binding PATCH naming it answers 400
   * "…has not been deployed yet". Default 0: live at once. `Infinity`: never live.
   */
  deployPolls?: number;
  /**
   * The GET /jobs/:id that answers 'completed' is the exportPolls-th (default 1); the ones
   * before answer 'processing'.
   */
  exportPolls?: number;
  /** How long an export's download link works (default 60 s, as Auth0 documents). */
  exportLinkSeconds?: number;
  /** An export job not completed this long after it started ends 'failed' (default 8 hours). */
  exportTimeoutMs?: number;
  /** The M2M application's grant (default: every scope the project needs; see scopes.ts). */
  grantedScopes?: readonly string[];
}

export interface ClientOptions {
  maxRetries?: number;
  timeoutInSeconds?: number;
}

export interface ManagementApi {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly domain: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Sends https://<domain>/… here; anything else goes to the global fetch. */
  readonly fetch: typeof fetch;
  /** A real ManagementClient for this tenant, over `fetch`. */
  client(options?: ClientOptions): ManagementClient;

  readonly actions: Map<string, Action>;
  /** The post-login bindings in execution order (replaced in place by a PATCH). */
  readonly bindings: Binding[];
  readonly users: Map<string, User>;
  readonly jobs: Map<string, ExportJob>;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** POSTs to /oauth/token. */
  readonly tokenRequests: number;
  /** Successful PATCH /api/v2/users/:id. */
  readonly userWrites: number;
  /** The non-GET /api/v2 requests (an idempotent re-run should add none). */
  writes(): RecordedRequest[];

  /** The action's current secret values (Auth0 never returns them). */
  secretValues(actionId: string): Record<string, string>;
  /** The code of the action's deployed version. */
  deployedCode(actionId: string): string | undefined;
  /** An action already in the tenant: built, by default deployed, optionally bound last. */
  seedAction(spec: SeedAction): Action;
  /** Adds users; default `sms|user-<i>`, phone `+1555` + 7-digit i, no email. `i` keeps counting across calls. */
  seedUsers(count: number, make?: (i: number) => User): void;

  /**
   * The next `count` requests matching `match` (default: any /api/v2 request) get `reply`
   * instead of their answer.
   */
  failNext(
    count: number,
    reply: FaultReply,
    match?: (req: { method: string; path: string }) => boolean,
  ): void;
  /**
   * The tenant's rate limits (rate-limits.ts): a number is a global bucket whose burst is its
   * rate; `{ perSecond, burst }` sets the burst apart; `{ global, writeUsers }` adds the Write
   * Users bucket (POST/PATCH /users); `undefined` lifts them.
   */
  setRateLimit(limit: RateLimitSetting): void;
  /** What the following builds end in (default 'built'). */
  setBuildResult(result: 'built' | 'failed'): void;
  /** Invalidates every issued token (the next API calls answer 401). */
  revokeTokens(): void;
  /**
   * The M2M application's grant from now on; `undefined` restores the default. A token keeps the
   * scopes it was issued with, so a client that already holds one must be made anew to see it.
   */
  setGrantedScopes(scopes: readonly string[] | undefined): void;
  /** The export job's next GET answers 'failed'. */
  failExport(jobId: string): void;
  /** Every export download link handed out so far is expired; the job's next GET signs a new one. */
  expireExportLinks(): void;
  close(): Promise<void>;
}

export async function startManagementApi(
  options: ManagementApiOptions = {},
): Promise<ManagementApi> {
  const domain = options.domain ?? 'tenant.example.auth0.com';
  const clientId = options.clientId ?? 'test-client-id';
  const clientSecret = options.clientSecret ?? 'test-client-secret';
  let url = '';

  const tenant = createTenant();
  const requests: RecordedRequest[] = [];
  const faults = createFaults();
  const rateLimit = createRateLimit();
  const tokens = createTokenIssuer({
    clientId,
    clientSecret,
    audience: `https://${domain}/api/v2/`,
    grantedScopes: options.grantedScopes,
  });
  const actions = createActions(tenant, {
    buildPolls: options.buildPolls ?? 1,
    deployPolls: options.deployPolls ?? 0,
  });
  const bindings = createTriggerBindings(tenant);
  const users = createUsers(tenant);
  const userExports = createUserExports(tenant, {
    exportPolls: options.exportPolls ?? 1,
    baseUrl: () => url,
    linkSeconds: options.exportLinkSeconds,
    timeoutMs: options.exportTimeoutMs,
  });
  const routes: Route[] = [actions.route, bindings.route, users.route, userExports.route];

  // An injected fault comes first, so that a test can fail any request; then the two endpoints
  // that take no bearer token (/oauth/token and the export download); then, for /api/v2, the
  // token, the rate limit, a body that is not JSON, and last the concern whose route it is.
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const parsed = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rawPath = parsed.pathname;
    const path = safeDecode(rawPath);
    const query = Object.fromEntries(parsed.searchParams);
    const raw = await readBody(req);
    const body = parseBody(req.headers['content-type'], raw);
    requests.push({
      method,
      path,
      query,
      body: body.ok ? body.value : raw,
      headers: req.headers,
    });

    const fault = faults.take({ method, path });
    if (fault) {
      send(res, {
        status: fault.status,
        body: fault.body === undefined ? errorBody(fault.status) : fault.body,
        ...(fault.headers ? { headers: fault.headers } : {}),
      });
      return;
    }

    if (path === '/oauth/token' && method === 'POST') {
      send(res, body.ok ? tokens.issue(body.value) : tokens.issue(undefined));
      return;
    }
    if (await userExports.serveDownload(method, path, query, res)) return;
    if (!rawPath.startsWith('/api/v2/')) {
      send(res, notFound());
      return;
    }

    const granted = tokens.scopesOf(req.headers.authorization);
    if (!granted) {
      send(res, error(401, 'Invalid token'));
      return;
    }
    // The token's scopes against the route's (scopes.ts): Auth0's 403 insufficient_scope.
    const denied = refuseScope(method, rawPath, granted);
    if (denied) {
      send(res, denied);
      return;
    }
    const rate = rateLimit.take(
      method,
      rawPath.slice('/api/v2/'.length).split('/').map(safeDecode),
    );
    if (rate && !rate.ok) {
      // Auth0's 429: the bucket's x-ratelimit-* headers, errorCode too_many_requests, and no
      // Retry-After (see rate-limits.ts).
      send(res, { ...error(429, rate.message, 'too_many_requests'), headers: rate.headers });
      return;
    }
    if (!body.ok) {
      send(res, {
        ...invalid('Invalid request payload JSON format'),
        headers: rate?.headers ?? {},
      });
      return;
    }
    const segments = rawPath.slice('/api/v2/'.length).split('/').map(safeDecode);
    const request = { method, segments, query, body: body.value };
    let reply = notFound();
    for (const route of routes) {
      const answer = route(request);
      if (answer) {
        reply = answer;
        break;
      }
    }
    send(res, { ...reply, headers: { ...(rate?.headers ?? {}), ...(reply.headers ?? {}) } });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((cause: unknown) => {
      if (res.headersSent) res.destroy();
      else send(res, { status: 500, body: errorBody(500, String(cause)) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  url = `http://127.0.0.1:${port}`;

  const origin = `https://${domain}`.toLowerCase();
  const rewrite = (href: string): string =>
    href.toLowerCase().startsWith(`${origin}/`) ? `${url}${href.slice(origin.length)}` : href;
  const localFetch: typeof fetch = (input, init) => {
    if (typeof input === 'string' || input instanceof URL)
      return fetch(rewrite(String(input)), init);
    const target = rewrite(input.url);
    return target === input.url ? fetch(input, init) : fetch(new Request(target, input), init);
  };

  return {
    url,
    domain,
    clientId,
    clientSecret,
    fetch: localFetch,
    client(clientOptions: ClientOptions = {}) {
      return new ManagementClient({
        domain,
        clientId,
        clientSecret,
        fetch: localFetch,
        ...(clientOptions.maxRetries === undefined ? {} : { maxRetries: clientOptions.maxRetries }),
        ...(clientOptions.timeoutInSeconds === undefined
          ? {}
          : { timeoutInSeconds: clientOptions.timeoutInSeconds }),
      });
    },
    actions: tenant.actions,
    bindings: tenant.bindings,
    users: tenant.users,
    jobs: tenant.jobs,
    requests,
    get tokenRequests() {
      return tokens.tokenRequests;
    },
    get userWrites() {
      return users.userWrites;
    },
    writes: () => requests.filter((r) => r.method !== 'GET' && r.path.startsWith('/api/v2/')),
    secretValues: actions.secretValues,
    deployedCode: actions.deployedCode,
    seedAction(spec) {
      const action = actions.seedAction(spec);
      if (spec.bound) bindings.bindSeeded(action);
      return action;
    },
    seedUsers: tenant.seedUsers,
    failNext: faults.failNext,
    setRateLimit: rateLimit.set,
    setBuildResult: actions.setBuildResult,
    revokeTokens: tokens.revokeAll,
    setGrantedScopes: tokens.setGrantedScopes,
    failExport: userExports.failJob,
    expireExportLinks: userExports.expireLinks,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
