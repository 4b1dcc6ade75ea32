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
 *
 * Right after an update, a GET may still report the previous build as `built`, so the deploy is
 * refused 400 "A draft must be in the 'built' state before it can be deployed."; the Deploy CLI
 * retries exactly that refusal (auth0/auth0-deploy-cli src/tools/auth0/handlers/actions.ts
 * `deployAction`, CHANGELOG 7.11.1 #524), and so does `deploy` here, waiting for the build again.
 *
 * Every wait also stops at an overall `deadline`: the custom resource's Lambda must answer
 * CloudFormation before it times out, or the stack waits an hour for an answer.
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
  /** Deploys refused as "not built" are tried again this often, the delay doubling. */
  readonly deployRetries: number;
  /** The clock's time at which every wait stops (InstallDeadlineError); none: only the bounds. */
  readonly deadline?: number | undefined;
  /** Cuts a Management API call under way when the time is up (an SDK retry's next attempt too). */
  readonly signal?: AbortSignal | undefined;
  readonly sleep: (ms: number) => Promise<void>;
  readonly clock: () => number;
}

/** The Action being installed, as errors name it: by name first, the id only to help. */
export interface NamedAction {
  readonly id: string;
  readonly name: string;
}

/**
 * Runs one Management API call; a 403 insufficient_scope becomes an error naming the scope, and
 * a call cut by `signal` (the time is up) an InstallDeadlineError naming the operation.
 */
export async function managementCall<T>(
  operation: string,
  call: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  try {
    return await (signal ? untilAborted(call(), signal) : call());
  } catch (error) {
    if (signal?.aborted) throw new InstallDeadlineError(`Auth0's answer (${operation})`);
    throw missingScope(error, operation) ?? error;
  }
}

/**
 * The call's outcome, or a rejection as soon as `signal` aborts. The SDK hands the signal to
 * each attempt's fetch, but sleeps between its retries on a plain timer (up to a minute after a
 * 429, auth0 core/fetcher/requestWithRetries.js), and its token request takes no signal at all:
 * without this race, a call cut at the deadline could still outlive the Lambda. The call
 * abandoned here settles unheeded.
 */
function untilAborted<T>(call: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    call.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Auth0's 400 for a binding that names an action whose deploy has not taken effect. */
export function isNotDeployedYet(error: unknown): boolean {
  if (!(error instanceof ManagementError) || error.statusCode !== 400) return false;
  const message = (error.body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && /has not been deployed yet/i.test(message);
}

/** Auth0's 400 for a deploy of a draft whose build has not ended (or not yet been seen to). */
export function isNotBuiltYet(error: unknown): boolean {
  if (!(error instanceof ManagementError) || error.statusCode !== 400) return false;
  const message = (error.body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' && /must be in the 'built' state/i.test(message);
}

/** The install stopped waiting so that its caller (the custom resource) can still answer. */
export class InstallDeadlineError extends Error {
  constructor(waitingFor: string) {
    super(
      `ran out of time waiting for ${waitingFor}: the installer stops before its Lambda times ` +
        'out, so that CloudFormation gets an answer; Auth0 may still finish, deploy again',
    );
    this.name = 'InstallDeadlineError';
  }
}

export class ActionReadiness {
  constructor(
    private readonly client: ManagementClient,
    private readonly options: ReadinessOptions,
  ) {}

  /** Until the draft is built; a failed build is final. */
  async built(action: NamedAction): Promise<void> {
    const giveUpAt = this.options.clock() + this.options.buildTimeoutMs;
    for (;;) {
      const current = await this.read(action);
      if (current.status === 'built') return;
      if (current.status === 'failed') {
        throw new Error(
          `Auth0 failed to build the Action "${action.name}" (id ${action.id}): its build errors are ` +
            `in the dashboard (Actions > Library > ${action.name}); fix the code and install again`,
        );
      }
      if (this.options.clock() >= giveUpAt) {
        throw new Error(
          `Auth0 did not build the Action "${action.name}" (id ${action.id}) within ` +
            `${this.options.buildTimeoutMs} ms (last status: ${current.status ?? 'none'}); install again later`,
        );
      }
      await this.pause(
        this.options.pollMs,
        `Auth0 to build the Action "${action.name}" (id ${action.id}; last status: ${current.status ?? 'none'})`,
      );
    }
  }

  /**
   * Until the version just deployed is the action's live `deployed_version`. Auth0 answers the
   * deploy with the new version before it runs at login or can be bound.
   */
  async live(action: NamedAction, deployed: Management.DeployActionResponseContent): Promise<void> {
    const giveUpAt = this.options.clock() + this.options.deployTimeoutMs;
    const version = deployed.number ?? deployed.id ?? '';
    for (;;) {
      const current = (await this.read(action)).deployed_version;
      const isLive =
        current !== undefined &&
        current.deployed !== false &&
        (deployed.id === undefined || current.id === deployed.id);
      if (isLive) return;
      if (this.options.clock() >= giveUpAt) {
        throw new Error(
          `Auth0 did not make the deployed version ${version} of the ` +
            `Action "${action.name}" (id ${action.id}) live within ${this.options.deployTimeoutMs} ms; ` +
            'check Actions > Library in the dashboard, then install again',
        );
      }
      await this.pause(
        this.options.pollMs,
        `Auth0 to make the deployed version ${version} of the Action "${action.name}" (id ${action.id}) live`,
      );
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
        await managementCall(operation, write, this.options.signal);
        return attempt;
      } catch (error) {
        if (!isNotDeployedYet(error)) throw error;
        if (attempt > this.options.bindRetries) {
          throw new Error(
            `Auth0 still refused to bind the Action "${action.name}" as not deployed yet after ` +
              `${attempt} attempts; install again in a minute`,
          );
        }
        await this.pause(
          this.options.pollMs * 2 ** (attempt - 1),
          `Auth0 to accept the binding of the Action "${action.name}" (refused as not deployed yet)`,
        );
      }
    }
  }

  /**
   * Deploys the draft once it is built; a deploy refused as "not built" (a GET that still saw
   * the previous build) waits with a doubling delay and for the build again, a bounded number
   * of times.
   */
  async deploy(
    action: NamedAction,
    deploy: () => Promise<Management.DeployActionResponseContent>,
  ): Promise<Management.DeployActionResponseContent> {
    for (let attempt = 1; ; attempt += 1) {
      await this.built(action);
      try {
        return await managementCall(
          `deploy the Action "${action.name}"`,
          deploy,
          this.options.signal,
        );
      } catch (error) {
        if (!isNotBuiltYet(error)) throw error;
        if (attempt > this.options.deployRetries) {
          throw new Error(
            `Auth0 still refused to deploy the Action "${action.name}" (id ${action.id}) as not ` +
              `built after ${attempt} attempts; install again in a minute`,
          );
        }
        await this.pause(
          this.options.pollMs * 2 ** (attempt - 1),
          `Auth0 to build the Action "${action.name}" (id ${action.id}; its deploy was refused as not built)`,
        );
      }
    }
  }

  /** Sleeps, unless the sleep would end past the deadline: then stops, saying what it awaited. */
  private async pause(ms: number, waitingFor: string): Promise<void> {
    const { deadline } = this.options;
    if (deadline !== undefined && this.options.clock() + ms > deadline) {
      throw new InstallDeadlineError(waitingFor);
    }
    await this.options.sleep(ms);
  }

  private read(action: NamedAction): Promise<Management.GetActionResponseContent> {
    const { signal } = this.options;
    return managementCall(
      `read the Action "${action.name}"`,
      () => this.client.actions.get(action.id, signal ? { abortSignal: signal } : {}),
      signal,
    );
  }
}
