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
import { createRateLimit } from './rate-limits.ts';
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
  /** The GET /jobs/:id that answers 'completed' is the exportPolls-th (default 1). */
  exportPolls?: number;
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
  /** A token bucket (burst = perSecond) over all /api/v2 requests; `undefined` lifts it. */
  setRateLimit(perSecond: number | undefined): void;
  /** What the following builds end in (default 'built'). */
  setBuildResult(result: 'built' | 'failed'): void;
  /** Invalidates every issued token (the next API calls answer 401). */
  revokeTokens(): void;
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
  });
  const actions = createActions(tenant, { buildPolls: options.buildPolls ?? 1 });
  const bindings = createTriggerBindings(tenant);
  const users = createUsers(tenant);
  const userExports = createUserExports(tenant, {
    exportPolls: options.exportPolls ?? 1,
    baseUrl: () => url,
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
    if (await userExports.serveDownload(method, path, res)) return;
    if (!rawPath.startsWith('/api/v2/')) {
      send(res, notFound());
      return;
    }

    if (!tokens.accepts(req.headers.authorization)) {
      send(res, error(401, 'Invalid token'));
      return;
    }
    const rate = rateLimit.take();
    if (rate && !rate.ok) {
      send(res, { ...error(429, 'Global limit has been reached'), headers: rate.headers });
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
