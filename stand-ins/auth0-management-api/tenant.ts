/**
 * The tenant's records, shaped as the Management API returns them, and the maps that hold them.
 * They are plain data so that a test can seed and inspect them directly; the behaviour that
 * changes them lives with each concern (actions.ts, trigger-bindings.ts, users.ts,
 * user-exports.ts).
 */

import { generatedPhone } from '../demo-data.ts';

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

/**
 * A draft's or a version's build status, as the SDK's `ActionBuildStatusEnum` lists them
 * (auth0/node-auth0 src/management/api/types/types.ts). This stand-in goes pending → building →
 * built (or failed); packaged and retrying are Auth0's intermediate states, never answered here.
 */
export type BuildStatus = 'pending' | 'building' | 'packaged' | 'built' | 'retrying' | 'failed';

export interface ActionVersion {
  id: string;
  action_id: string;
  code: string;
  runtime: string;
  dependencies: ActionDependency[];
  secrets: ActionSecret[];
  supported_triggers: ActionTrigger[];
  number: number;
  /** False from the deploy until Auth0 has made this version live (see actions.ts). */
  deployed: boolean;
  status: BuildStatus;
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
  /**
   * The live version (what runs at login), as Auth0 returns it on GET. A deploy replaces it
   * only once it has taken effect, a moment after the deploy answered.
   */
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

/**
 * A users-export job's statuses: `pending` when created (the example reply in auth0/docs-v2
 * main/docs/manage-users/user-migration/bulk-user-exports.mdx), `processing` while it runs,
 * then `completed` with a `location`, or `failed`. The SDK types `status` as a plain string
 * (auth0/node-auth0 GetJobResponseContent), so the project treats anything but completed and
 * failed as still running.
 */
export type ExportJobStatus = 'pending' | 'processing' | 'completed' | 'failed';

export interface ExportJob {
  id: string;
  type: 'users_export';
  status: ExportJobStatus;
  format: 'json';
  fields?: ExportField[];
  connection_id?: string;
  limit?: number;
  created_at: string;
  location?: string;
}

/** The one trigger this stand-in binds Actions to (the only one the sync uses). */
export const TRIGGER = 'post-login';

export interface Tenant {
  readonly actions: Map<string, Action>;
  /** The post-login bindings in execution order (replaced in place by a PATCH). */
  readonly bindings: Binding[];
  readonly users: Map<string, User>;
  readonly jobs: Map<string, ExportJob>;
  /** Adds users; default `sms|user-<i>`, phone `+1555` + 7-digit i, no email. `i` keeps counting across calls. */
  seedUsers(count: number, make?: (i: number) => User): void;
}

export function createTenant(): Tenant {
  const users = new Map<string, User>();
  let seeded = 0;
  return {
    actions: new Map(),
    bindings: [],
    users,
    jobs: new Map(),
    seedUsers(count, make) {
      for (let n = 0; n < count; n += 1) {
        const i = seeded;
        seeded += 1;
        const user = make
          ? make(i)
          : {
              user_id: `sms|user-${i}`,
              phone_number: generatedPhone(i),
              app_metadata: {},
            };
        users.set(user.user_id, user);
      }
    },
  };
}

/** The timestamps Auth0 writes into created_at, updated_at and built_at. */
export function now(): string {
  return new Date().toISOString();
}
