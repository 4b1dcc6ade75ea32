import { createHash } from 'node:crypto';
import type { Management, ManagementClient } from 'auth0';

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
  /** How long to wait for Auth0 to build a new draft before deploying it. */
  readonly buildTimeoutMs?: number;
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

type Binding = { readonly id: string; readonly actionId: string; readonly name: string };

/**
 * Installs the post-login Action as code through the Management API: create or update it,
 * deploy it, and bind it at a chosen position while every other bound Action keeps its place.
 * Idempotent: the code and secrets are fingerprinted into the deployed code (Auth0 never returns
 * secret values), so an unchanged install is recognised and nothing is written.
 * Used by `npm run action:deploy` and by the CDK stack's custom resource.
 */
export class ActionInstaller {
  private readonly buildTimeoutMs: number;
  private readonly pollMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: ManagementClient,
    options: InstallerOptions = {},
  ) {
    this.buildTimeoutMs = options.buildTimeoutMs ?? 120_000;
    this.pollMs = options.pollMs ?? 1_000;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
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
      action = await this.client.actions.create({
        name: spec.name,
        supported_triggers: [{ id: TRIGGER, version: TRIGGER_VERSION }],
        code,
        runtime,
        secrets,
      });
      steps.push({ kind: 'create_action', name: spec.name });
    } else if (action.code !== code) {
      action = await this.client.actions.update(action.id, { code, runtime, secrets });
      steps.push({ kind: 'update_action', id: action.id ?? '' });
    }
    const actionId = action.id;
    if (!actionId) throw new Error('Auth0 returned an Action without an id');
    if (steps.length > 0 || action.all_changes_deployed !== true) {
      await this.waitUntilBuilt(actionId);
      await this.client.actions.deploy(actionId);
      steps.push({ kind: 'deploy_action', name: spec.name });
    }

    const bindings = await this.listBindings();
    const wanted = placeOurs(bindings, actionId, spec);
    if (!sameOrder(bindings, wanted)) {
      await this.writeBindings(wanted);
      steps.push({ kind: 'bind', order: wanted.map((b) => b.name) });
    }
    return { steps, order: wanted.map((b) => b.name), actionId };
  }

  /** Takes ours out of the post-login flow (stack removal); the others stay as they were. */
  async unbind(name: string): Promise<InstallPlan> {
    const bindings = await this.listBindings();
    const rest = bindings.filter((b) => b.name !== name);
    if (rest.length === bindings.length) return { steps: [], order: rest.map((b) => b.name) };
    await this.writeBindings(rest);
    const order = rest.map((b) => b.name);
    return { steps: [{ kind: 'unbind', order }], order };
  }

  private async findAction(name: string): Promise<Management.Action | undefined> {
    const page = await this.client.actions.list({ actionName: name, triggerId: TRIGGER });
    for await (const action of page) {
      if (action.name === name) return action;
    }
    return undefined;
  }

  private async listBindings(): Promise<Binding[]> {
    const page = await this.client.actions.triggers.bindings.list(TRIGGER, { per_page: 50 });
    const bindings: Binding[] = [];
    for await (const b of page) {
      bindings.push({
        id: b.id ?? '',
        actionId: b.action?.id ?? '',
        name: b.display_name ?? b.action?.name ?? '',
      });
    }
    return bindings;
  }

  private async writeBindings(bindings: readonly Binding[]): Promise<void> {
    await this.client.actions.triggers.bindings.updateMany(TRIGGER, {
      bindings: bindings.map((b) => ({
        // Existing bindings are referred to as themselves, so they keep their identity.
        ref: b.id ? { type: 'binding_id', value: b.id } : { type: 'action_id', value: b.actionId },
        display_name: b.name,
      })),
    });
  }

  /** Auth0 builds a draft asynchronously; deploying before it is built is refused. */
  private async waitUntilBuilt(actionId: string): Promise<void> {
    const deadline = Date.now() + this.buildTimeoutMs;
    for (;;) {
      const action = await this.client.actions.get(actionId);
      if (action.status === 'built') return;
      if (action.status === 'failed') throw new Error(`Auth0 failed to build Action ${actionId}`);
      if (Date.now() > deadline) {
        throw new Error(`Action ${actionId} was not built within ${this.buildTimeoutMs} ms`);
      }
      await this.sleep(this.pollMs);
    }
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
