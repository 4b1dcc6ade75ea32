import { invalid, isObjectList, type Reply } from './http.ts';
import type { ActionDependency, ActionSecret, ActionTrigger } from './tenant.ts';

/**
 * Checking and reading the body of an Action create or update (POST /actions/actions,
 * PATCH /actions/actions/:id), with Auth0's 400 messages, and the secrets in it: their values
 * are kept, only their names are ever answered.
 */

/** The create/update fields other than name and triggers. */
export interface ActionFields {
  code?: string;
  runtime?: string;
  dependencies?: ActionDependency[];
  secrets?: Array<{ name: string; value?: string }>;
}

export function isTriggerList(value: unknown): value is ActionTrigger[] {
  return isObjectList<ActionTrigger>(value, (t) => typeof t.id === 'string');
}

/** The create/update fields other than name and triggers, or a 400 for the first that is wrong. */
export function actionFields(body: Record<string, unknown>): ActionFields | Reply {
  const { code, runtime, dependencies, secrets } = body;
  if (code !== undefined && typeof code !== 'string') {
    return invalid('Payload validation error: code must be a string');
  }
  if (runtime !== undefined && typeof runtime !== 'string') {
    return invalid('Payload validation error: runtime must be a string');
  }
  if (
    dependencies !== undefined &&
    !isObjectList<ActionDependency>(
      dependencies,
      (d) => typeof d.name === 'string' && typeof d.version === 'string',
    )
  ) {
    return invalid('Payload validation error: dependencies must be [{ name, version }]');
  }
  if (
    secrets !== undefined &&
    !isObjectList<{ name: string; value?: string }>(
      secrets,
      (s) => typeof s.name === 'string' && (s.value === undefined || typeof s.value === 'string'),
    )
  ) {
    return invalid('Payload validation error: secrets must be [{ name, value }]');
  }
  return {
    ...(code === undefined ? {} : { code }),
    ...(runtime === undefined ? {} : { runtime }),
    ...(dependencies === undefined ? {} : { dependencies: structuredClone(dependencies) }),
    ...(secrets === undefined ? {} : { secrets }),
  };
}

/** What Auth0 answers for the secrets: their names, never their values. */
export function secretList(values: Record<string, string>, at: string): ActionSecret[] {
  return Object.keys(values).map((name) => ({ name, updated_at: at }));
}

/** The values after a write: the list replaces the old one, a name without a value keeps its value. */
export function secretValuesOf(
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
