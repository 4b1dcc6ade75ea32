import { randomBytes, randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { ManagementClient } from 'auth0';

/**
 * The Auth0 Management API on a local socket, speaking its wire protocol well enough for the
 * real `auth0` v7 ManagementClient (pointed here through its `fetch` option): the client
 * credentials token, Actions with their asynchronous build and deploy, the post-login trigger
 * bindings, user app_metadata updates and user export jobs whose file is streamed as gzipped
 * NDJSON. Its state is plain maps and arrays a test can seed and inspect, and it can be made
 * to fail (`failNext`) or to rate-limit (`setRateLimit`) like the real tenant.
 */

export interface ActionTrigger {
  id: string;
  version?: string;
  [key: string]: unknown;
}

export interface ActionDependency {
  name: string;
  version: string;
}

/** What Auth0 returns for a secret: never its value. */
export interface ActionSecret {
  name: string;
  updated_at: string;
}

export type BuildStatus = 'pending' | 'building' | 'built' | 'failed';

export interface ActionVersion {
  id: string;
  action_id: string;
  code: string;
  runtime: string;
  dependencies: ActionDependency[];
  secrets: ActionSecret[];
  supported_triggers: ActionTrigger[];
  number: number;
  deployed: boolean;
  status: 'built';
  built_at: string;
  created_at: string;
  updated_at: string;
}

export interface Action {
  id: string;
  name: string;
  supported_triggers: ActionTrigger[];
  code: string;
  runtime: string;
  dependencies: ActionDependency[];
  secrets: ActionSecret[];
  status: BuildStatus;
  all_changes_deployed: boolean;
  created_at: string;
  updated_at: string;
  built_at?: string;
  /** The version last deployed (what runs at login), as Auth0 returns it on GET. */
  deployed_version?: ActionVersion;
}

/** A post-login binding; its `action` is resolved from `actions` when answered. */
export interface Binding {
  id: string;
  trigger_id: 'post-login';
  action_id: string;
  display_name: string;
  created_at: string;
  updated_at: string;
}

export interface User {
  user_id: string;
  email?: string;
  phone_number?: string;
  app_metadata: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface ExportField {
  name: string;
  export_as?: string;
}

export interface ExportJob {
  id: string;
  type: 'users_export';
  status: 'pending' | 'completed';
  format: 'json';
  fields?: ExportField[];
  connection_id?: string;
  limit?: number;
  created_at: string;
  location?: string;
}

export interface RecordedRequest {
  method: string;
  /** Percent-decoded, e.g. `/api/v2/users/sms|user-1`. */
  path: string;
  query: Record<string, string>;
  /** Parsed JSON or form body; `undefined` when there was none. */
  body: unknown;
  headers: IncomingHttpHeaders;
}

export interface FaultReply {
  status: number;
  headers?: Record<string, string>;
  /** Sent as JSON; defaults to Auth0's error shape for the status. */
  body?: unknown;
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

export interface SeedAction {
  name: string;
  code?: string;
  runtime?: string;
  secrets?: Record<string, string>;
  /** Default true. */
  deployed?: boolean;
  /** Append a post-login binding (requires deployed). Default false. */
  bound?: boolean;
}

type Reply = { status: number; body?: unknown; headers?: Record<string, string> };

const TRIGGER = 'post-login';
const MAX_PER_PAGE = 100;
const SCOPE = [
  'read:actions',
  'create:actions',
  'update:actions',
  'delete:actions',
  'read:users',
  'update:users',
  'read:users_app_metadata',
  'update:users_app_metadata',
  'create:users_app_metadata',
].join(' ');

export async function startManagementApi(
  options: ManagementApiOptions = {},
): Promise<ManagementApi> {
  const domain = options.domain ?? 'tenant.example.auth0.com';
  const clientId = options.clientId ?? 'test-client-id';
  const clientSecret = options.clientSecret ?? 'test-client-secret';
  const buildPolls = options.buildPolls ?? 1;
  const exportPolls = options.exportPolls ?? 1;
  const audience = `https://${domain}/api/v2/`;

  const actions = new Map<string, Action>();
  const bindings: Binding[] = [];
  const users = new Map<string, User>();
  const jobs = new Map<string, ExportJob>();
  const requests: RecordedRequest[] = [];
  const tokens = new Set<string>();
  const secrets = new Map<string, Record<string, string>>();
  const buildCountdown = new Map<string, number>();
  const exportCountdown = new Map<string, number>();
  const deployWhenBuilt = new Set<string>();
  const faults: Array<{
    remaining: number;
    reply: FaultReply;
    match: (req: { method: string; path: string }) => boolean;
  }> = [];
  let tokenRequests = 0;
  let userWrites = 0;
  let seeded = 0;
  let buildResult: 'built' | 'failed' = 'built';
  let bucket: { perSecond: number; tokens: number; at: number } | undefined;
  let url = '';

  const now = () => new Date().toISOString();

  // --- actions ---------------------------------------------------------------------------------

  function secretList(values: Record<string, string>, at: string): ActionSecret[] {
    return Object.keys(values).map((name) => ({ name, updated_at: at }));
  }

  function advanceBuild(action: Action): void {
    if (action.status !== 'pending' && action.status !== 'building') return;
    const left = (buildCountdown.get(action.id) ?? buildPolls) - 1;
    if (left > 0) {
      buildCountdown.set(action.id, left);
      action.status = 'building';
      return;
    }
    buildCountdown.delete(action.id);
    action.status = buildResult;
    if (buildResult === 'built') {
      action.built_at = now();
      if (deployWhenBuilt.delete(action.id)) deploy(action);
    }
  }

  function markChanged(action: Action): void {
    action.status = 'pending';
    action.all_changes_deployed = false;
    action.updated_at = now();
    buildCountdown.delete(action.id);
    if (buildPolls <= 0) advanceBuild(action);
  }

  function deploy(action: Action): ActionVersion {
    const at = now();
    const version: ActionVersion = {
      id: randomUUID(),
      action_id: action.id,
      code: action.code,
      runtime: action.runtime,
      dependencies: structuredClone(action.dependencies),
      secrets: structuredClone(action.secrets),
      supported_triggers: structuredClone(action.supported_triggers),
      number: (action.deployed_version?.number ?? 0) + 1,
      deployed: true,
      status: 'built',
      built_at: action.built_at ?? at,
      created_at: at,
      updated_at: at,
    };
    action.deployed_version = version;
    action.all_changes_deployed = true;
    return version;
  }

  function supports(action: Action, trigger: string): boolean {
    return action.supported_triggers.some((t) => t.id === trigger);
  }

  function nameTaken(name: string, triggers: ActionTrigger[], except?: string): boolean {
    return [...actions.values()].some(
      (a) => a.id !== except && a.name === name && triggers.some((t) => supports(a, t.id)),
    );
  }

  function actionBase(action: Action) {
    return {
      id: action.id,
      name: action.name,
      supported_triggers: structuredClone(action.supported_triggers),
      all_changes_deployed: action.all_changes_deployed,
      created_at: action.created_at,
      updated_at: action.updated_at,
    };
  }

  function bindingView(binding: Binding) {
    const action = actions.get(binding.action_id);
    return {
      id: binding.id,
      trigger_id: binding.trigger_id,
      display_name: binding.display_name,
      ...(action ? { action: structuredClone(action) } : {}),
      created_at: binding.created_at,
      updated_at: binding.updated_at,
    };
  }

  function seedAction(spec: SeedAction): Action {
    const at = now();
    const values = { ...(spec.secrets ?? {}) };
    const action: Action = {
      id: randomUUID(),
      name: spec.name,
      supported_triggers: [{ id: TRIGGER, version: 'v3' }],
      code: spec.code ?? `exports.onExecutePostLogin = async () => {}; // ${spec.name}\n`,
      runtime: spec.runtime ?? 'node22',
      dependencies: [],
      secrets: secretList(values, at),
      status: 'built',
      all_changes_deployed: false,
      created_at: at,
      updated_at: at,
      built_at: at,
    };
    actions.set(action.id, action);
    secrets.set(action.id, values);
    if (spec.deployed !== false) deploy(action);
    if (spec.bound) {
      if (!action.deployed_version) throw new Error('seedAction: a bound action must be deployed');
      bindings.push({
        id: randomUUID(),
        trigger_id: TRIGGER,
        action_id: action.id,
        display_name: action.name,
        created_at: at,
        updated_at: at,
      });
    }
    return action;
  }

  // --- routes ----------------------------------------------------------------------------------

  function listActions(query: Record<string, string>): Reply {
    const paging = pagingOf(query);
    if ('status' in paging) return paging;
    const all = [...actions.values()].filter(
      (a) =>
        (query.actionName === undefined || a.name === query.actionName) &&
        (query.triggerId === undefined || supports(a, query.triggerId)) &&
        (query.deployed === undefined ||
          (a.deployed_version !== undefined) === (query.deployed === 'true')),
    );
    const start = paging.page * paging.perPage;
    return {
      status: 200,
      body: {
        actions: all.slice(start, start + paging.perPage).map((a) => structuredClone(a)),
        total: all.length,
        page: paging.page,
        per_page: paging.perPage,
      },
    };
  }

  function createAction(body: unknown): Reply {
    if (!isObject(body)) return invalid('Payload validation error: expected an object');
    const { name, supported_triggers: triggers } = body;
    if (typeof name !== 'string' || name === '') {
      return invalid('Payload validation error: Missing required property: name');
    }
    if (!isTriggerList(triggers) || triggers.length === 0) {
      return invalid('Payload validation error: Missing required property: supported_triggers');
    }
    const fields = actionFields(body);
    if ('status' in fields) return fields;
    if (nameTaken(name, triggers)) {
      return error(409, `An action with the name '${name}' already exists for this trigger.`);
    }
    const at = now();
    const values = secretValuesOf(fields.secrets, {});
    const action: Action = {
      id: randomUUID(),
      name,
      supported_triggers: structuredClone(triggers),
      code: fields.code ?? '',
      runtime: fields.runtime ?? 'node22',
      dependencies: fields.dependencies ?? [],
      secrets: secretList(values, at),
      status: 'pending',
      all_changes_deployed: false,
      created_at: at,
      updated_at: at,
    };
    actions.set(action.id, action);
    secrets.set(action.id, values);
    if (body.deploy === true) deployWhenBuilt.add(action.id);
    markChanged(action);
    return { status: 201, body: structuredClone(action) };
  }

  function updateAction(action: Action, body: unknown): Reply {
    if (!isObject(body)) return invalid('Payload validation error: expected an object');
    const fields = actionFields(body);
    if ('status' in fields) return fields;
    const { name, supported_triggers: triggers } = body;
    if (name !== undefined && (typeof name !== 'string' || name === '')) {
      return invalid('Payload validation error: name must be a non-empty string');
    }
    if (triggers !== undefined && (!isTriggerList(triggers) || triggers.length === 0)) {
      return invalid('Payload validation error: supported_triggers must be a non-empty array');
    }
    const nextName = name ?? action.name;
    const nextTriggers = triggers ?? action.supported_triggers;
    if (nameTaken(nextName, nextTriggers, action.id)) {
      return error(409, `An action with the name '${nextName}' already exists for this trigger.`);
    }
    action.name = nextName;
    action.supported_triggers = structuredClone(nextTriggers);
    if (fields.code !== undefined) action.code = fields.code;
    if (fields.runtime !== undefined) action.runtime = fields.runtime;
    if (fields.dependencies !== undefined) action.dependencies = fields.dependencies;
    if (fields.secrets !== undefined) {
      // The list replaces the old one; a secret named without a value keeps its value.
      const values = secretValuesOf(fields.secrets, secrets.get(action.id) ?? {});
      secrets.set(action.id, values);
      action.secrets = secretList(values, now());
    }
    markChanged(action);
    return { status: 200, body: structuredClone(action) };
  }

  function deployAction(action: Action): Reply {
    if (action.status !== 'built') {
      return invalid("A draft must be in the 'built' state before it can be deployed.");
    }
    const version = deploy(action);
    return { status: 200, body: { ...structuredClone(version), action: actionBase(action) } };
  }

  function deleteAction(action: Action, query: Record<string, string>): Reply {
    const bound = bindings.some((b) => b.action_id === action.id);
    if (bound && query.force !== 'true') {
      return error(409, 'The action is bound to a trigger; remove the binding first.');
    }
    if (bound) {
      const rest = bindings.filter((b) => b.action_id !== action.id);
      bindings.splice(0, bindings.length, ...rest);
    }
    actions.delete(action.id);
    secrets.delete(action.id);
    buildCountdown.delete(action.id);
    return { status: 204 };
  }

  function listBindings(query: Record<string, string>): Reply {
    const paging = pagingOf(query);
    if ('status' in paging) return paging;
    const start = paging.page * paging.perPage;
    return {
      status: 200,
      body: {
        bindings: bindings.slice(start, start + paging.perPage).map(bindingView),
        total: bindings.length,
        page: paging.page,
        per_page: paging.perPage,
      },
    };
  }

  function updateBindings(body: unknown): Reply {
    if (!isObject(body) || !Array.isArray(body.bindings)) {
      return invalid('Payload validation error: Missing required property: bindings');
    }
    const at = now();
    const next: Binding[] = [];
    for (const item of body.bindings as unknown[]) {
      if (!isObject(item) || !isObject(item.ref)) {
        return invalid('Payload validation error: each binding needs a ref');
      }
      const { type, value } = item.ref;
      const displayName = item.display_name;
      if (
        typeof value !== 'string' ||
        (displayName !== undefined && typeof displayName !== 'string')
      ) {
        return invalid('Payload validation error: ref.value and display_name must be strings');
      }
      let existing: Binding | undefined;
      let action: Action | undefined;
      if (type === 'binding_id') {
        existing = bindings.find((b) => b.id === value);
        if (!existing) return invalid(`Binding '${value}' does not exist.`);
        action = actions.get(existing.action_id);
      } else if (type === 'action_id') {
        action = actions.get(value);
      } else if (type === 'action_name') {
        action = [...actions.values()].find((a) => a.name === value && supports(a, TRIGGER));
      } else {
        return invalid(
          "Payload validation error: ref.type must be 'binding_id', 'action_id' or 'action_name'",
        );
      }
      if (!action) return invalid(`The action referred to by ${type} '${value}' does not exist.`);
      if (!supports(action, TRIGGER)) {
        return invalid(`Action '${action.name}' does not support the trigger '${TRIGGER}'.`);
      }
      if (!action.deployed_version) {
        return invalid(`Action '${action.name}' must be deployed before it can be bound.`);
      }
      if (next.some((b) => b.action_id === action.id)) {
        return invalid(`Action '${action.name}' is bound more than once.`);
      }
      const name = displayName ?? existing?.display_name ?? action.name;
      next.push(
        existing
          ? {
              ...existing,
              display_name: name,
              updated_at: name === existing.display_name ? existing.updated_at : at,
            }
          : {
              id: randomUUID(),
              trigger_id: TRIGGER,
              action_id: action.id,
              display_name: name,
              created_at: at,
              updated_at: at,
            },
      );
    }
    bindings.splice(0, bindings.length, ...next);
    return { status: 200, body: { bindings: bindings.map(bindingView) } };
  }

  function updateUser(user: User, body: unknown): Reply {
    if (!isObject(body) || Object.keys(body).length === 0) {
      return invalid('Payload validation error: Too few properties defined (0), minimum 1');
    }
    for (const key of ['app_metadata', 'user_metadata'] as const) {
      const value = body[key];
      if (value !== undefined && !isObject(value)) {
        return invalid(`Payload validation error: '${key}' must be an object`);
      }
    }
    for (const [key, value] of Object.entries(body)) {
      if (key === 'app_metadata' || key === 'user_metadata') {
        const merged: Record<string, unknown> = { ...(user[key] ?? {}) };
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
          if (v === null) delete merged[k];
          else merged[k] = v;
        }
        user[key] = merged;
      } else if (key !== 'user_id') {
        if (value === null) delete user[key];
        else user[key] = value;
      }
    }
    user.updated_at = now();
    userWrites += 1;
    return { status: 200, body: structuredClone(user) };
  }

  function createExport(body: unknown): Reply {
    const request = body === undefined ? {} : body;
    if (!isObject(request)) return invalid('Payload validation error: expected an object');
    const format = request.format ?? 'csv';
    if (format !== 'json') {
      return invalid(
        `format '${String(format)}' (csv is Auth0's default) is not supported by this test server; ask for format: 'json'`,
      );
    }
    const { fields, connection_id: connectionId, limit } = request;
    if (fields !== undefined && !isFieldList(fields)) {
      return invalid('Payload validation error: fields must be [{ name, export_as? }]');
    }
    if (connectionId !== undefined && typeof connectionId !== 'string') {
      return invalid('Payload validation error: connection_id must be a string');
    }
    if (limit !== undefined && (typeof limit !== 'number' || limit < 1)) {
      return invalid('Payload validation error: limit must be a positive number');
    }
    const job: ExportJob = {
      id: `job_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`,
      type: 'users_export',
      status: 'pending',
      format: 'json',
      ...(fields === undefined ? {} : { fields: structuredClone(fields) }),
      ...(connectionId === undefined ? {} : { connection_id: connectionId }),
      ...(limit === undefined ? {} : { limit }),
      created_at: now(),
    };
    jobs.set(job.id, job);
    return { status: 201, body: structuredClone(job) };
  }

  function getJob(job: ExportJob): Reply {
    if (job.status === 'pending') {
      const left = (exportCountdown.get(job.id) ?? exportPolls) - 1;
      if (left > 0) {
        exportCountdown.set(job.id, left);
      } else {
        exportCountdown.delete(job.id);
        job.status = 'completed';
        job.location = `${url}/exports/${job.id}.json.gz`;
      }
    }
    return { status: 200, body: structuredClone(job) };
  }

  function route(
    method: string,
    segments: string[],
    query: Record<string, string>,
    body: unknown,
  ): Reply {
    const [a, b, c, d, ...rest] = segments;
    if (a === 'actions' && b === 'actions' && rest.length === 0) {
      if (c === undefined) {
        if (method === 'GET') return listActions(query);
        if (method === 'POST') return createAction(body);
        return notFound();
      }
      const action = actions.get(c);
      if (d === 'deploy' && method === 'POST') return action ? deployAction(action) : noAction();
      if (d !== undefined) return notFound();
      if (!action) return ['GET', 'PATCH', 'DELETE'].includes(method) ? noAction() : notFound();
      if (method === 'GET') {
        advanceBuild(action);
        return { status: 200, body: structuredClone(action) };
      }
      if (method === 'PATCH') return updateAction(action, body);
      if (method === 'DELETE') return deleteAction(action, query);
      return notFound();
    }
    if (
      a === 'actions' &&
      b === 'triggers' &&
      c !== undefined &&
      d === 'bindings' &&
      rest.length === 0
    ) {
      if (c !== TRIGGER) return error(404, `Trigger '${c}' is not supported by this test server.`);
      if (method === 'GET') return listBindings(query);
      if (method === 'PATCH') return updateBindings(body);
      return notFound();
    }
    if (a === 'users' && b !== undefined && c === undefined) {
      const user = users.get(b);
      if (!user) {
        return method === 'GET' || method === 'PATCH'
          ? error(404, 'The user does not exist.', 'inexistent_user')
          : notFound();
      }
      if (method === 'GET') return { status: 200, body: structuredClone(user) };
      if (method === 'PATCH') return updateUser(user, body);
      return notFound();
    }
    if (a === 'jobs' && b === 'users-exports' && c === undefined && method === 'POST') {
      return createExport(body);
    }
    if (a === 'jobs' && b !== undefined && c === undefined && method === 'GET') {
      const job = jobs.get(b);
      return job ? getJob(job) : error(404, 'The job does not exist.', 'inexistent_job');
    }
    return notFound();
  }

  // --- token, rate limit, faults -----------------------------------------------------------------

  function issueToken(body: unknown): Reply {
    tokenRequests += 1;
    const form = isObject(body) ? body : {};
    if (form.grant_type !== 'client_credentials') {
      return {
        status: 403,
        body: {
          error: 'unauthorized_client',
          error_description: 'Grant type not allowed for the client.',
        },
      };
    }
    if (form.client_id !== clientId || form.client_secret !== clientSecret) {
      return { status: 401, body: { error: 'access_denied', error_description: 'Unauthorized' } };
    }
    if (form.audience !== audience) {
      return {
        status: 403,
        body: {
          error: 'access_denied',
          error_description: `Service not enabled within domain: ${String(form.audience)}`,
        },
      };
    }
    const token = randomBytes(24).toString('base64url');
    tokens.add(token);
    return {
      status: 200,
      body: { access_token: token, token_type: 'Bearer', expires_in: 86400, scope: SCOPE },
    };
  }

  function takeRateToken(): { ok: boolean; headers: Record<string, string> } | undefined {
    if (!bucket) return undefined;
    const at = Date.now();
    bucket.tokens = Math.min(
      bucket.perSecond,
      bucket.tokens + ((at - bucket.at) / 1000) * bucket.perSecond,
    );
    bucket.at = at;
    const limit = String(bucket.perSecond);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      const fullAt = at + ((bucket.perSecond - bucket.tokens) / bucket.perSecond) * 1000;
      return {
        ok: true,
        headers: {
          'x-ratelimit-limit': limit,
          'x-ratelimit-remaining': String(Math.floor(bucket.tokens)),
          'x-ratelimit-reset': String(Math.ceil(fullAt / 1000)),
        },
      };
    }
    const waitMs = ((1 - bucket.tokens) / bucket.perSecond) * 1000;
    return {
      ok: false,
      headers: {
        'x-ratelimit-limit': limit,
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.ceil((at + waitMs) / 1000)),
        'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
      },
    };
  }

  function takeFault(req: { method: string; path: string }): FaultReply | undefined {
    const fault = faults.find((f) => f.remaining > 0 && f.match(req));
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) faults.splice(faults.indexOf(fault), 1);
    return fault.reply;
  }

  // --- the export file ---------------------------------------------------------------------------

  function* exportLines(job: ExportJob): Generator<string> {
    const limit = job.limit ?? Number.POSITIVE_INFINITY;
    let count = 0;
    let chunk = '';
    for (const user of users.values()) {
      if (count >= limit) break;
      count += 1;
      chunk += `${JSON.stringify(project(user, job.fields))}\n`;
      if (chunk.length >= 64 * 1024) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk !== '') yield chunk;
  }

  async function streamExport(res: ServerResponse, jobId: string): Promise<void> {
    const job = jobs.get(jobId);
    if (job?.status !== 'completed') {
      send(res, { status: 404, body: errorBody(404, 'No such export.') });
      return;
    }
    // A gzip file, as S3 serves it: no Content-Encoding, so the client sees the gzip bytes.
    res.writeHead(200, { 'content-type': 'application/gzip' });
    await pipeline(Readable.from(exportLines(job), { objectMode: false }), createGzip(), res).catch(
      () => res.destroy(),
    );
  }

  // --- HTTP --------------------------------------------------------------------------------------

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

    const fault = takeFault({ method, path });
    if (fault) {
      send(res, {
        status: fault.status,
        body: fault.body === undefined ? errorBody(fault.status) : fault.body,
        ...(fault.headers ? { headers: fault.headers } : {}),
      });
      return;
    }

    if (path === '/oauth/token' && method === 'POST') {
      send(res, body.ok ? issueToken(body.value) : issueToken(undefined));
      return;
    }
    const download = /^\/exports\/([^/]+)\.json\.gz$/.exec(path);
    if (download?.[1] !== undefined && method === 'GET') {
      await streamExport(res, download[1]);
      return;
    }
    if (!rawPath.startsWith('/api/v2/')) {
      send(res, notFound());
      return;
    }

    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer === undefined || !tokens.has(bearer)) {
      send(res, error(401, 'Invalid token'));
      return;
    }
    const rate = takeRateToken();
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
    const reply = route(method, segments, query, body.value);
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
    actions,
    bindings,
    users,
    jobs,
    requests,
    get tokenRequests() {
      return tokenRequests;
    },
    get userWrites() {
      return userWrites;
    },
    writes: () => requests.filter((r) => r.method !== 'GET' && r.path.startsWith('/api/v2/')),
    secretValues: (actionId) => ({ ...(secrets.get(actionId) ?? {}) }),
    deployedCode: (actionId) => actions.get(actionId)?.deployed_version?.code,
    seedAction,
    seedUsers(count, make) {
      for (let n = 0; n < count; n += 1) {
        const i = seeded;
        seeded += 1;
        const user = make
          ? make(i)
          : {
              user_id: `sms|user-${i}`,
              phone_number: `+1555${String(i).padStart(7, '0')}`,
              app_metadata: {},
            };
        users.set(user.user_id, user);
      }
    },
    failNext(count, reply, match = (req) => req.path.startsWith('/api/v2/')) {
      if (count > 0) faults.push({ remaining: count, reply, match });
    },
    setRateLimit(perSecond) {
      if (perSecond !== undefined && !(perSecond > 0)) {
        throw new Error('setRateLimit: perSecond must be positive');
      }
      bucket =
        perSecond === undefined ? undefined : { perSecond, tokens: perSecond, at: Date.now() };
    },
    setBuildResult(result) {
      buildResult = result;
    },
    revokeTokens() {
      tokens.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// --- helpers ---------------------------------------------------------------------------------------

function errorBody(status: number, message?: string, errorCode?: string) {
  return {
    statusCode: status,
    error: STATUS_CODES[status] ?? 'Error',
    message: message ?? STATUS_CODES[status] ?? 'Error',
    ...(errorCode === undefined ? {} : { errorCode }),
  };
}

function error(status: number, message: string, errorCode?: string): Reply {
  return { status, body: errorBody(status, message, errorCode) };
}

function invalid(message: string): Reply {
  return error(400, message, 'invalid_body');
}

function notFound(): Reply {
  return error(404, 'Not Found');
}

function noAction(): Reply {
  return error(404, 'That action does not exist.');
}

function send(res: ServerResponse, reply: Reply): void {
  const headers = { ...(reply.headers ?? {}) };
  if (reply.status === 204 || reply.body === undefined) {
    res.writeHead(reply.status, headers);
    res.end();
    return;
  }
  const hasType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
  if (!hasType) headers['content-type'] = 'application/json; charset=utf-8';
  res.writeHead(reply.status, headers);
  res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(
  contentType: string | undefined,
  raw: string,
): { ok: true; value: unknown } | { ok: false } {
  if (raw === '') return { ok: true, value: undefined };
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    return { ok: true, value: Object.fromEntries(new URLSearchParams(raw)) };
  }
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false };
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTriggerList(value: unknown): value is ActionTrigger[] {
  return Array.isArray(value) && value.every((t) => isObject(t) && typeof t.id === 'string');
}

function isFieldList(value: unknown): value is ExportField[] {
  return (
    Array.isArray(value) &&
    value.every(
      (f) =>
        isObject(f) &&
        typeof f.name === 'string' &&
        (f.export_as === undefined || typeof f.export_as === 'string'),
    )
  );
}

function pagingOf(query: Record<string, string>): { page: number; perPage: number } | Reply {
  const page = query.page === undefined ? 0 : Number(query.page);
  const perPage = query.per_page === undefined ? 50 : Number(query.per_page);
  if (!Number.isInteger(page) || page < 0) {
    return invalid('Query validation error: page must be an integer >= 0');
  }
  if (!Number.isInteger(perPage) || perPage < 1 || perPage > MAX_PER_PAGE) {
    return invalid(`Query validation error: per_page must be between 1 and ${MAX_PER_PAGE}`);
  }
  return { page, perPage };
}

/** The create/update fields other than name and triggers, checked. */
function actionFields(body: Record<string, unknown>):
  | {
      code?: string;
      runtime?: string;
      dependencies?: ActionDependency[];
      secrets?: Array<{ name: string; value?: string }>;
    }
  | Reply {
  const { code, runtime, dependencies, secrets } = body;
  if (code !== undefined && typeof code !== 'string') {
    return invalid('Payload validation error: code must be a string');
  }
  if (runtime !== undefined && typeof runtime !== 'string') {
    return invalid('Payload validation error: runtime must be a string');
  }
  if (
    dependencies !== undefined &&
    !(
      Array.isArray(dependencies) &&
      dependencies.every(
        (d) => isObject(d) && typeof d.name === 'string' && typeof d.version === 'string',
      )
    )
  ) {
    return invalid('Payload validation error: dependencies must be [{ name, version }]');
  }
  if (
    secrets !== undefined &&
    !(
      Array.isArray(secrets) &&
      secrets.every(
        (s) =>
          isObject(s) &&
          typeof s.name === 'string' &&
          (s.value === undefined || typeof s.value === 'string'),
      )
    )
  ) {
    return invalid('Payload validation error: secrets must be [{ name, value }]');
  }
  return {
    ...(code === undefined ? {} : { code }),
    ...(runtime === undefined ? {} : { runtime }),
    ...(dependencies === undefined
      ? {}
      : { dependencies: structuredClone(dependencies as ActionDependency[]) }),
    ...(secrets === undefined
      ? {}
      : { secrets: secrets as Array<{ name: string; value?: string }> }),
  };
}

function secretValuesOf(
  list: Array<{ name: string; value?: string }> | undefined,
  previous: Record<string, string>,
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const { name, value } of list ?? []) {
    const kept = value ?? previous[name];
    if (kept !== undefined) values[name] = kept;
  }
  return values;
}

/** One export row: the requested fields (dotted names reach into objects), or the whole user. */
function project(user: User, fields: ExportField[] | undefined): Record<string, unknown> {
  if (!fields) return user;
  const row: Record<string, unknown> = {};
  for (const field of fields) {
    let value: unknown = user;
    for (const part of field.name.split('.')) {
      value = isObject(value) ? value[part] : undefined;
    }
    if (value !== undefined) row[field.export_as ?? field.name] = value;
  }
  return row;
}
