import { createHash } from 'node:crypto';
import type { Management, ManagementClient } from 'auth0';
import { ActionReadiness, managementCall } from './auth0-action-readiness.ts';

const TRIGGER = 'post-login';
// Auth0's current post-login trigger version; v1/v2 are the deprecated ones.
const TRIGGER_VERSION = 'v3';
const FINGERPRINT_PREFIX = '// auth0-crm-sync install fingerprint: ';

export interface ActionInstallSpec {
  /** The Action's name in the tenant; also the binding's display name. */
  readonly name: string;
  /** The built Action (dist/auth0/post-login.js). */
  readonly code: string;
  /** Action secrets (SYNC_API_URL, SYNC_SIGNING_SECRET and options). Never logged. */
  readonly secrets: Readonly<Record<string, string>>;
  /** Where ours runs among the post-login Actions; the others keep their relative order. */
  readonly position: 'first' | 'last' | number;
  readonly runtime?: string;
}

export type InstallStep =
  | { readonly kind: 'create_action'; readonly name: string }
  | { readonly kind: 'update_action'; readonly id: string }
  | { readonly kind: 'deploy_action'; readonly name: string }
  | { readonly kind: 'bind'; readonly order: readonly string[] }
  | { readonly kind: 'unbind'; readonly order: readonly string[] };

export interface InstallPlan {
  /** Empty when the tenant already matches: a second run changes nothing. */
  readonly steps: readonly InstallStep[];
  /** Post-login Actions in execution order once the plan is applied. */
  readonly order: readonly string[];
}

export interface InstallerOptions {
  /** How long to wait for Auth0 to build a new draft before deploying it. Default 2 minutes. */
  readonly buildTimeoutMs?: number;
  /** How long to wait, after the deploy, for the new version to be live. Default 1 minute. */
  readonly deployTimeoutMs?: number;
  /** Between two GETs of the action while waiting; the first bind retry's delay. Default 1 s. */
  readonly pollMs?: number;
  /** Retries of a binding refused as "not deployed yet", the delay doubling. Default 5 (~31 s). */
  readonly bindRetries?: number;
  /** Retries of a deploy refused as "not built", the delay doubling. Default 5 (~31 s). */
  readonly deployRetries?: number;
  /**
   * When, on `clock`, every wait stops with an InstallDeadlineError naming what it awaited: the
   * custom resource sets it shortly before its Lambda times out. Default none.
   */
  readonly deadline?: number;
  /**
   * Time is up: aborts the Management API call under way, and an SDK retry's next attempt (a
   * backoff sleep already begun still runs out first).
   */
  readonly signal?: AbortSignal;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly clock?: () => number;
}

type Binding = { readonly id: string; readonly actionId: string; readonly name: string };

/**
 * Installs the post-login Action as code through the Management API: create or update it,
 * deploy it, and bind it at a chosen position while every other bound Action keeps its place.
 * Idempotent: the code and secrets are fingerprinted into the deployed code (Auth0 never returns
 * secret values), so an unchanged install is recognised and nothing is written. Each step waits
 * for Auth0 to finish the one before (build, deploy going live, binding), within a bound and
 * an overall `deadline` (auth0-action-readiness.ts); a missing scope fails naming it.
 * Used by `npm run action:deploy` and by the CDK stack's custom resource.
 */
export class ActionInstaller {
  private readonly readiness: ActionReadiness;
  private readonly signal: AbortSignal | undefined;
  /** Every call's request options: the abort signal, when there is one. */
  private readonly request: { abortSignal?: AbortSignal };

  constructor(
    private readonly client: ManagementClient,
    options: InstallerOptions = {},
  ) {
    this.signal = options.signal;
    this.request = options.signal ? { abortSignal: options.signal } : {};
    // Each wait is bounded; the custom resource also sets `deadline`, so that all of them
    // together still end before its Lambda does.
    this.readiness = new ActionReadiness(client, {
      buildTimeoutMs: options.buildTimeoutMs ?? 120_000,
      deployTimeoutMs: options.deployTimeoutMs ?? 60_000,
      pollMs: options.pollMs ?? 1_000,
      bindRetries: options.bindRetries ?? 5,
      deployRetries: options.deployRetries ?? 5,
      deadline: options.deadline,
      signal: options.signal,
      sleep: options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      clock: options.clock ?? Date.now,
    });
  }

  /** What `apply` would do, without writing anything (`--dry-run`). */
  async plan(spec: ActionInstallSpec): Promise<InstallPlan> {
    const current = await this.findAction(spec.name);
    const code = withFingerprint(spec);
    const steps: InstallStep[] = [];
    if (!current?.id) steps.push({ kind: 'create_action', name: spec.name });
    else if (current.code !== code) steps.push({ kind: 'update_action', id: current.id });
    if (steps.length > 0 || current?.all_changes_deployed !== true) {
      steps.push({ kind: 'deploy_action', name: spec.name });
    }
    const bindings = await this.listBindings();
    const wanted = placeOurs(bindings, current?.id, spec);
    if (!sameOrder(bindings, wanted))
      steps.push({ kind: 'bind', order: wanted.map((b) => b.name) });
    return { steps, order: wanted.map((b) => b.name) };
  }

  async apply(spec: ActionInstallSpec): Promise<InstallPlan & { readonly actionId: string }> {
    const code = withFingerprint(spec);
    const runtime = spec.runtime ?? 'node22';
    const secrets = Object.entries(spec.secrets).map(([name, value]) => ({ name, value }));
    const steps: InstallStep[] = [];
    let action = await this.findAction(spec.name);
    if (!action?.id) {
      action = await this.call(`create the Action "${spec.name}"`, () =>
        this.client.actions.create(
          {
            name: spec.name,
            supported_triggers: [{ id: TRIGGER, version: TRIGGER_VERSION }],
            code,
            runtime,
            secrets,
          },
          this.request,
        ),
      );
      steps.push({ kind: 'create_action', name: spec.name });
    } else if (action.code !== code) {
      const id = action.id;
      action = await this.call(`update the Action "${spec.name}"`, () =>
        this.client.actions.update(id, { code, runtime, secrets }, this.request),
      );
      steps.push({ kind: 'update_action', id: action.id ?? '' });
    }
    const actionId = action.id;
    if (!actionId) throw new Error(`Auth0 returned the Action "${spec.name}" without an id`);
    const named = { id: actionId, name: spec.name };
    if (steps.length > 0 || action.all_changes_deployed !== true) {
      const version = await this.readiness.deploy(named, () =>
        this.client.actions.deploy(actionId, this.request),
      );
      await this.readiness.live(named, version);
      steps.push({ kind: 'deploy_action', name: spec.name });
    }

    const bindings = await this.listBindings();
    const wanted = placeOurs(bindings, actionId, spec);
    if (!sameOrder(bindings, wanted)) {
      await this.readiness.bind(named, () => this.writeBindings(wanted));
      steps.push({ kind: 'bind', order: wanted.map((b) => b.name) });
    }
    return { steps, order: wanted.map((b) => b.name), actionId };
  }

  /** Takes ours out of the post-login flow (stack removal); the others stay as they were. */
  async unbind(name: string): Promise<InstallPlan> {
    const bindings = await this.listBindings();
    const rest = bindings.filter((b) => b.name !== name);
    if (rest.length === bindings.length) return { steps: [], order: rest.map((b) => b.name) };
    await this.readiness.bind(
      { name },
      () => this.writeBindings(rest),
      `unbind the Action "${name}" from post-login`,
    );
    const order = rest.map((b) => b.name);
    return { steps: [{ kind: 'unbind', order }], order };
  }

  private async findAction(name: string): Promise<Management.Action | undefined> {
    return this.call('read the Actions', async () => {
      const page = await this.client.actions.list(
        { actionName: name, triggerId: TRIGGER },
        this.request,
      );
      for await (const action of page) {
        if (action.name === name) return action;
      }
      return undefined;
    });
  }

  private listBindings(): Promise<Binding[]> {
    return this.call('read the post-login bindings', async () => {
      const page = await this.client.actions.triggers.bindings.list(
        TRIGGER,
        { per_page: 50 },
        this.request,
      );
      const bindings: Binding[] = [];
      for await (const b of page) {
        bindings.push({
          id: b.id ?? '',
          actionId: b.action?.id ?? '',
          name: b.display_name ?? b.action?.name ?? '',
        });
      }
      return bindings;
    });
  }

  private async writeBindings(bindings: readonly Binding[]): Promise<void> {
    await this.client.actions.triggers.bindings.updateMany(
      TRIGGER,
      {
        bindings: bindings.map((b) => ({
          // Existing bindings are referred to as themselves, so they keep their identity.
          ref: b.id
            ? { type: 'binding_id', value: b.id }
            : { type: 'action_id', value: b.actionId },
          display_name: b.name,
        })),
      },
      this.request,
    );
  }

  private call<T>(operation: string, call: () => Promise<T>): Promise<T> {
    return managementCall(operation, call, this.signal);
  }
}

/** The code as deployed: the build plus a fingerprint of everything an install sets. */
export function withFingerprint(spec: ActionInstallSpec): string {
  const secrets = Object.entries(spec.secrets).sort(([a], [b]) => a.localeCompare(b));
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([spec.runtime ?? 'node22', spec.code, secrets]))
    .digest('hex');
  return `${spec.code.trimEnd()}\n${FINGERPRINT_PREFIX}${fingerprint}\n`;
}

function placeOurs(
  bindings: readonly Binding[],
  actionId: string | undefined,
  spec: ActionInstallSpec,
): Binding[] {
  const ours = bindings.find((b) => (actionId && b.actionId === actionId) || b.name === spec.name);
  const others = bindings.filter((b) => b !== ours);
  const index =
    spec.position === 'first'
      ? 0
      : spec.position === 'last'
        ? others.length
        : Math.max(0, Math.min(others.length, spec.position));
  const mine: Binding = ours ?? { id: '', actionId: actionId ?? '', name: spec.name };
  return [...others.slice(0, index), mine, ...others.slice(index)];
}

function sameOrder(current: readonly Binding[], wanted: readonly Binding[]): boolean {
  return (
    current.length === wanted.length &&
    current.every((b, i) => b.id !== '' && b.id === wanted[i]?.id)
  );
}
