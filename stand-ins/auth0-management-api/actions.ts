import { randomUUID } from 'node:crypto';
import { actionFields, isTriggerList, secretList, secretValuesOf } from './action-payloads.ts';
import type { ApiRequest, Reply } from './http.ts';
import { error, invalid, isObject, listPage, notFound } from './http.ts';
import {
  type Action,
  type ActionTrigger,
  type ActionVersion,
  now,
  type Tenant,
  TRIGGER,
} from './tenant.ts';

/**
 * /api/v2/actions/actions: Actions and their versions. As on the real tenant, a create or update
 * leaves the draft 'pending' and a later GET finds it built (after `buildPolls` GETs), only a
 * built draft deploys, a deploy snapshots the draft as a new numbered version, and secret values
 * are write-only.
 *
 * A deploy takes effect a moment after it answers: Auth0's backend is eventually consistent, and
 * a version just deployed is neither the action's `deployed_version` nor bindable at once
 * (auth0/auth0-deploy-cli issue #385 and src/tools/auth0/handlers/triggers.ts, which sleeps before
 * binding; auth0/terraform-provider-auth0 PR #1590, internal/auth0/action/resource.go
 * `waitForActionDeployed`, which polls the action until its deployed version is live). Here "a
 * moment" is `deployPolls` GETs of the action, counted as builds are, so tests stay exact.
 */

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

export function supports(action: Action, trigger: string): boolean {
  return action.supported_triggers.some((t) => t.id === trigger);
}

export interface ActionTimings {
  /** The GET that answers 'built' after a create or update is the buildPolls-th. */
  readonly buildPolls: number;
  /** The GET of the action that finds a deploy live is the deployPolls-th; 0: live at once. */
  readonly deployPolls: number;
}

export function createActions(tenant: Tenant, options: ActionTimings) {
  const { actions, bindings } = tenant;
  const { buildPolls, deployPolls } = options;
  /** The secret values by action id; Auth0 answers only their names. */
  const secrets = new Map<string, Record<string, string>>();
  /** GETs left before a pending build ends; absent means all `buildPolls` of them. */
  const buildCountdown = new Map<string, number>();
  /** Created with `deploy: true`: deployed as soon as the build ends well. */
  const deployWhenBuilt = new Set<string>();
  let buildResult: 'built' | 'failed' = 'built';
  /** Deployed versions not yet live, with the GETs left before they are. */
  const pendingDeploys = new Map<
    string,
    { version: ActionVersion; left: number; revision: number }
  >();
  /** The last version number given, by action: a pending version has its number already. */
  const versionNumbers = new Map<string, number>();
  /** Draft revisions by action, so that going live knows whether the draft changed since. */
  const revisions = new Map<string, number>();

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
    revisions.set(action.id, (revisions.get(action.id) ?? 0) + 1);
    action.status = 'pending';
    action.all_changes_deployed = false;
    action.updated_at = now();
    buildCountdown.delete(action.id);
    if (buildPolls <= 0) advanceBuild(action);
  }

  /** Snapshots the draft as a new version; it is live at once only when deployPolls is 0. */
  function deploy(action: Action): ActionVersion {
    const at = now();
    const number = (versionNumbers.get(action.id) ?? 0) + 1;
    versionNumbers.set(action.id, number);
    const version: ActionVersion = {
      id: randomUUID(),
      action_id: action.id,
      code: action.code,
      runtime: action.runtime,
      dependencies: structuredClone(action.dependencies),
      secrets: structuredClone(action.secrets),
      supported_triggers: structuredClone(action.supported_triggers),
      number,
      deployed: false,
      status: 'built',
      built_at: action.built_at ?? at,
      created_at: at,
      updated_at: at,
    };
    // A later deploy supersedes one still on its way.
    pendingDeploys.set(action.id, {
      version,
      left: deployPolls,
      revision: revisions.get(action.id) ?? 0,
    });
    if (deployPolls <= 0) goLive(action);
    return version;
  }

  /** The pending version becomes the one that runs at login, and the one a binding may name. */
  function goLive(action: Action): void {
    const pending = pendingDeploys.get(action.id);
    if (!pending) return;
    pendingDeploys.delete(action.id);
    pending.version.deployed = true;
    pending.version.updated_at = now();
    action.deployed_version = pending.version;
    action.all_changes_deployed = pending.revision === (revisions.get(action.id) ?? 0);
  }

  function advanceDeploy(action: Action): void {
    const pending = pendingDeploys.get(action.id);
    if (!pending) return;
    pending.left -= 1;
    if (pending.left <= 0) goLive(action);
  }

  function nameTaken(name: string, triggers: ActionTrigger[], except?: string): boolean {
    return [...actions.values()].some(
      (a) => a.id !== except && a.name === name && triggers.some((t) => supports(a, t.id)),
    );
  }

  /** A built action, by default deployed; `spec.bound` is for trigger-bindings.ts to honour. */
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
    if (spec.deployed !== false) {
      deploy(action);
      goLive(action);
    }
    return action;
  }

  function listActions(query: Record<string, string>): Reply {
    const all = [...actions.values()].filter(
      (a) =>
        (query.actionName === undefined || a.name === query.actionName) &&
        (query.triggerId === undefined || supports(a, query.triggerId)) &&
        (query.deployed === undefined ||
          (a.deployed_version !== undefined) === (query.deployed === 'true')),
    );
    return listPage('actions', all, query, (a) => structuredClone(a));
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
    pendingDeploys.delete(action.id);
    return { status: 204 };
  }

  /** /actions/actions, /actions/actions/:id and /actions/actions/:id/deploy. */
  function route({ method, segments, query, body }: ApiRequest): Reply | undefined {
    const [a, b, id, d, ...rest] = segments;
    if (a !== 'actions' || b !== 'actions' || rest.length !== 0) return undefined;
    if (id === undefined) {
      if (method === 'GET') return listActions(query);
      if (method === 'POST') return createAction(body);
      return notFound();
    }
    const action = actions.get(id);
    if (d === 'deploy' && method === 'POST') return action ? deployAction(action) : noAction();
    if (d !== undefined) return notFound();
    if (!action) return ['GET', 'PATCH', 'DELETE'].includes(method) ? noAction() : notFound();
    if (method === 'GET') {
      // A deploy that a build ending now sets off (create with deploy: true) waits for later GETs.
      advanceDeploy(action);
      advanceBuild(action);
      return { status: 200, body: structuredClone(action) };
    }
    if (method === 'PATCH') return updateAction(action, body);
    if (method === 'DELETE') return deleteAction(action, query);
    return notFound();
  }

  return {
    route,
    seedAction,
    /** The action's current secret values (Auth0 never returns them). */
    secretValues: (actionId: string) => ({ ...(secrets.get(actionId) ?? {}) }),
    /** The code of the action's deployed version. */
    deployedCode: (actionId: string) => actions.get(actionId)?.deployed_version?.code,
    /** What the following builds end in (default 'built'). */
    setBuildResult(result: 'built' | 'failed') {
      buildResult = result;
    },
  };
}

function noAction(): Reply {
  return error(404, 'That action does not exist.');
}

/** The action without its draft fields, as a deploy answers it next to the new version. */
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
