import type { Management, ManagementClient } from 'auth0';
import { ManagementError } from 'auth0';
import { missingScope } from './auth0-errors.ts';

/**
 * Auth0 builds and deploys an Action asynchronously, and each step is refused until the one
 * before has taken effect: a draft deploys only once built ("must be in the 'built' state"), and
 * a version just deployed is bindable only a moment later (400 "Trying to create a binding for an
 * action that has not been deployed yet."; auth0/auth0-deploy-cli issue #385, and
 * auth0/terraform-provider-auth0 PR #1590, whose `waitForActionDeployed` polls the action until
 * its deployed version is live). These waits make the installer wait for each, within a bound.
 */

export interface ReadinessOptions {
  /** How long Auth0 may take to build a draft. */
  readonly buildTimeoutMs: number;
  /** How long a deployed version may take to go live (Terraform's default for this wait: 1 minute). */
  readonly deployTimeoutMs: number;
  /** Between two GETs of the action while waiting; also the first bind retry's delay. */
  readonly pollMs: number;
  /** Binding PATCHes refused as "not deployed yet" are tried again this often, the delay doubling. */
  readonly bindRetries: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly clock: () => number;
}

/** The Action being installed, as errors name it: by name first, the id only to help. */
export interface NamedAction {
  readonly id: string;
  readonly name: string;
}

/** Runs one Management API call; a 403 insufficient_scope becomes an error naming the scope. */
export async function managementCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw missingScope(error, operation) ?? error;
  }
}

/** Auth0's 400 for a binding that names an action whose deploy has not taken effect. */
export function isNotDeployedYet(error: unknown): boolean {
  if (!(error instanceof ManagementError) || error.statusCode !== 400) return false;
  const message = (error.body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && /has not been deployed yet/i.test(message);
}

export class ActionReadiness {
  constructor(
    private readonly client: ManagementClient,
    private readonly options: ReadinessOptions,
  ) {}

  /** Until the draft is built; a failed build is final. */
  async built(action: NamedAction): Promise<void> {
    const deadline = this.options.clock() + this.options.buildTimeoutMs;
    for (;;) {
      const current = await this.read(action);
      if (current.status === 'built') return;
      if (current.status === 'failed') {
        throw new Error(
          `Auth0 failed to build the Action "${action.name}" (id ${action.id}): its build errors are ` +
            `in the dashboard (Actions > Library > ${action.name}); fix the code and install again`,
        );
      }
      if (this.options.clock() >= deadline) {
        throw new Error(
          `Auth0 did not build the Action "${action.name}" (id ${action.id}) within ` +
            `${this.options.buildTimeoutMs} ms (last status: ${current.status ?? 'none'}); install again later`,
        );
      }
      await this.options.sleep(this.options.pollMs);
    }
  }

  /**
   * Until the version just deployed is the action's live `deployed_version`. Auth0 answers the
   * deploy with the new version before it runs at login or can be bound.
   */
  async live(action: NamedAction, deployed: Management.DeployActionResponseContent): Promise<void> {
    const deadline = this.options.clock() + this.options.deployTimeoutMs;
    for (;;) {
      const current = (await this.read(action)).deployed_version;
      const isLive =
        current !== undefined &&
        current.deployed !== false &&
        (deployed.id === undefined || current.id === deployed.id);
      if (isLive) return;
      if (this.options.clock() >= deadline) {
        throw new Error(
          `Auth0 did not make the deployed version ${deployed.number ?? deployed.id ?? ''} of the ` +
            `Action "${action.name}" (id ${action.id}) live within ${this.options.deployTimeoutMs} ms; ` +
            'check Actions > Library in the dashboard, then install again',
        );
      }
      await this.options.sleep(this.options.pollMs);
    }
  }

  /**
   * Writes the bindings; Auth0's "not deployed yet" (a deploy still settling, even after the
   * version reads as live) is tried again with a doubling delay, a bounded number of times.
   */
  async bind(
    action: Pick<NamedAction, 'name'>,
    write: () => Promise<unknown>,
    operation = `bind the Action "${action.name}" to post-login`,
  ): Promise<number> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await managementCall(operation, write);
        return attempt;
      } catch (error) {
        if (!isNotDeployedYet(error)) throw error;
        if (attempt > this.options.bindRetries) {
          throw new Error(
            `Auth0 still refused to bind the Action "${action.name}" as not deployed yet after ` +
              `${attempt} attempts; install again in a minute`,
          );
        }
        await this.options.sleep(this.options.pollMs * 2 ** (attempt - 1));
      }
    }
  }

  private read(action: NamedAction): Promise<Management.GetActionResponseContent> {
    return managementCall(`read the Action "${action.name}"`, () =>
      this.client.actions.get(action.id),
    );
  }
}
