import { randomUUID } from 'node:crypto';
import { supports } from './actions.ts';
import type { ApiRequest, Reply } from './http.ts';
import { error, invalid, isObject, listPage, notFound } from './http.ts';
import { type Action, type Binding, now, type Tenant, TRIGGER } from './tenant.ts';

/**
 * /api/v2/actions/triggers/post-login/bindings: which deployed Actions run at login, in order.
 * A PATCH replaces the whole list; each entry names an existing binding (kept, with its id) or
 * an action by id or name (a new binding). Only an action with a live deployed version can be
 * bound; one deployed a moment ago is refused until its deploy has taken effect.
 */

export function createTriggerBindings(tenant: Tenant) {
  const { actions, bindings } = tenant;

  /** A binding as answered: with its action resolved. */
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

  function listBindings(query: Record<string, string>): Reply {
    return listPage('bindings', bindings, query, bindingView);
  }

  /** The action a PATCH entry's `ref` names, with the binding it names when it is a binding_id. */
  function resolveRef(
    type: unknown,
    value: string,
  ): { action: Action | undefined; existing?: Binding } | Reply {
    if (type === 'binding_id') {
      const existing = bindings.find((b) => b.id === value);
      if (!existing) return invalid(`Binding '${value}' does not exist.`);
      return { action: actions.get(existing.action_id), existing };
    }
    if (type === 'action_id') return { action: actions.get(value) };
    if (type === 'action_name') {
      return {
        action: [...actions.values()].find((a) => a.name === value && supports(a, TRIGGER)),
      };
    }
    return invalid(
      "Payload validation error: ref.type must be 'binding_id', 'action_id' or 'action_name'",
    );
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
      const ref = resolveRef(type, value);
      if ('status' in ref) return ref;
      const { action, existing } = ref;
      if (!action) return invalid(`The action referred to by ${type} '${value}' does not exist.`);
      if (!supports(action, TRIGGER)) {
        return invalid(`Action '${action.name}' does not support the trigger '${TRIGGER}'.`);
      }
      if (!action.deployed_version) return notDeployedYet();
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
          : newBinding(action, name, at),
      );
    }
    bindings.splice(0, bindings.length, ...next);
    return { status: 200, body: { bindings: bindings.map(bindingView) } };
  }

  /** /actions/triggers/:trigger/bindings; only post-login is served. */
  function route({ method, segments, query, body }: ApiRequest): Reply | undefined {
    const [a, b, trigger, d, ...rest] = segments;
    const isBindings = a === 'actions' && b === 'triggers' && d === 'bindings';
    if (!isBindings || trigger === undefined || rest.length !== 0) return undefined;
    if (trigger !== TRIGGER) {
      return error(404, `Trigger '${trigger}' is not supported by this test server.`);
    }
    if (method === 'GET') return listBindings(query);
    if (method === 'PATCH') return updateBindings(body);
    return notFound();
  }

  return {
    route,
    /** Binds a seeded action last, as `seedAction({ bound: true })` asks, dated as the action. */
    bindSeeded(action: Action): void {
      if (!action.deployed_version) throw new Error('seedAction: a bound action must be deployed');
      bindings.push(newBinding(action, action.name, action.created_at));
    },
  };
}

/**
 * Auth0's answer for an action with no live version: never deployed, or deployed a moment ago
 * and not yet live (actions.ts). The message is Auth0's as the Deploy CLI logged it in
 * auth0/auth0-deploy-cli issue #385; terraform-provider-auth0 PR #1590 describes the same 400
 * under load. No errorCode is on record for it, so none is sent: a client must recognise it by
 * status and message.
 */
export const NOT_DEPLOYED_YET =
  'Trying to create a binding for an action that has not been deployed yet.';

function notDeployedYet(): Reply {
  return error(400, NOT_DEPLOYED_YET);
}

function newBinding(action: Action, displayName: string, at: string): Binding {
  return {
    id: randomUUID(),
    trigger_id: TRIGGER,
    action_id: action.id,
    display_name: displayName,
    created_at: at,
    updated_at: at,
  };
}
