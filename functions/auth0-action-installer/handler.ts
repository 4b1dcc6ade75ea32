import { Logger } from '@aws-lambda-powertools/logger';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { ActionInstaller, type InstallerOptions } from '#shared/adapters/auth0-action-installer.ts';
import {
  managementClient as auth0Client,
  parseAuth0Credentials,
} from '#shared/adapters/auth0-client.ts';
import { secretReader } from '#shared/adapters/secrets-manager.ts';
import { parseSigningSecrets } from '#shared/domain/signature.ts';

/** What the CDK stack passes (ActionInstallation construct); secrets by ARN, never by value. */
interface InstallProperties {
  readonly ActionName: string;
  readonly Position: string;
  readonly Code: string;
  readonly SyncApiUrl: string;
  readonly SigningSecretArn: string;
  readonly Auth0SecretArn: string;
  readonly Auth0Domain: string;
  readonly FailMode: string;
  /** The Action's SYNC_TIMEOUT_MS; the sync service's ACTION_TIMEOUT_MS is the same number. */
  readonly SyncTimeoutMs?: string;
  /** The Action's ACCESS_TOKEN_CLAIMS: `true` or `false`. */
  readonly AccessTokenClaims?: string;
  /** The Action's METADATA_WRITES: `on_change` or `daily`. */
  readonly MetadataWrites?: string;
}

export interface InstallerDependencies {
  readonly secretsManager: SecretsManagerClient;
  /** For tests: the auth0 SDK's fetch, pointed at a local Management API. */
  readonly fetch?: typeof fetch;
  /** For tests: short polls and bounds, a test clock. */
  readonly installer?: InstallerOptions;
  /** How long before the Lambda's end the installer stops waiting, to answer. Default 30 s. */
  readonly answerMarginMs?: number;
  readonly logger?: Logger;
}

/**
 * Left, when the installer stops waiting, to answer CloudFormation: a Management API call
 * already under way (the SDK's own retries) and the PUT to the ResponseURL. A Lambda that times
 * out before that PUT leaves the stack waiting an hour for the resource.
 */
const ANSWER_MARGIN_MS = 30_000;

/**
 * A CloudFormation custom resource (answered through its pre-signed ResponseURL): Create and
 * Update install and bind the Action, Delete unbinds it and leaves every other Action in place.
 */
export function createInstallerHandler(deps: InstallerDependencies) {
  const logger = deps.logger ?? new Logger({ serviceName: 'crm-sync-action-installer' });
  const clock = deps.installer?.clock ?? Date.now;
  return async (
    event: CloudFormationCustomResourceEvent,
    context: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<void> => {
    const props = event.ResourceProperties as unknown as InstallProperties;
    const margin = deps.answerMarginMs ?? ANSWER_MARGIN_MS;
    const remaining = context.getRemainingTimeInMillis();
    // The waits stop at the deadline; a call still under way then is cut halfway through the
    // margin, which leaves the other half for the answer.
    const deadline = clock() + remaining - margin;
    const cut = new AbortController();
    const timer = setTimeout(() => cut.abort(), Math.max(0, remaining - margin / 2));
    const physicalId = `auth0-action:${props.ActionName}`;
    try {
      const installer = async () =>
        new ActionInstaller(await managementClient(deps, props), {
          ...deps.installer,
          deadline,
          signal: cut.signal,
        });
      if (event.RequestType === 'Delete' && event.PhysicalResourceId !== physicalId) {
        // A Create that failed may still have bound ours: a bind cut at the deadline, or a 5xx
        // whose write went through. Unbind it by name, best effort (the rollback must not fail
        // on a tenant that never saw us), so that no login calls an API the rollback removes.
        const unbound = await installer()
          .then((ours) => ours.unbind(props.ActionName))
          .then(
            (plan) =>
              plan.steps.length > 0 ? 'unbound after a failed install' : 'nothing was installed',
            (error: unknown) => {
              logger.warn('unbind after a failed install did not run', {
                fault: (error as Error).name,
              });
              return 'nothing was unbound (see the installer log)';
            },
          );
        await respond(event, 'SUCCESS', event.PhysicalResourceId, unbound);
        return;
      }
      if (event.RequestType === 'Delete') {
        await (await installer()).unbind(props.ActionName);
        await respond(event, 'SUCCESS', physicalId, 'unbound');
        return;
      }
      const signing = parseSigningSecrets(
        await secretReader(deps.secretsManager, props.SigningSecretArn)(),
      );
      const result = await (await installer()).apply({
        name: props.ActionName,
        code: props.Code,
        position: parsePosition(props.Position),
        secrets: actionSecrets(props, signing[0] ?? ''),
      });
      logger.info('action installed', {
        steps: result.steps.map((s) => s.kind),
        order: result.order,
      });
      await respond(
        event,
        'SUCCESS',
        physicalId,
        `installed; post-login order: ${result.order.join(' > ')}`,
        {
          ActionId: result.actionId,
        },
      );
    } catch (error) {
      const reason = `${(error as Error).name}: ${(error as Error).message}`.slice(0, 500);
      logger.error('action install failed', { fault: (error as Error).name });
      await respond(
        event,
        'FAILED',
        event.RequestType === 'Create' ? `${physicalId}:failed` : physicalId,
        reason,
      );
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * The stack creates this secret with a placeholder; a Create that finds it still there would
 * otherwise fail deep in the SDK. It fails here, naming the secret and what to put in it.
 */
async function managementClient(deps: InstallerDependencies, props: InstallProperties) {
  const raw = await secretReader(deps.secretsManager, props.Auth0SecretArn)();
  let credentials: { clientId: string; clientSecret: string };
  try {
    credentials = parseAuth0Credentials(raw);
  } catch (error) {
    throw new Error(
      `cannot install the Action "${props.ActionName}": ${(error as Error).message}. ` +
        `Secret: ${props.Auth0SecretArn}. Put the credentials, then deploy again.`,
    );
  }
  return auth0Client({
    domain: props.Auth0Domain,
    credentials,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
}

/** The Action's secrets from the resource's properties; a value the Action cannot read fails here. */
function actionSecrets(props: InstallProperties, signingSecret: string): Record<string, string> {
  const optional: Array<[string, string | undefined, RegExp]> = [
    ['SYNC_TIMEOUT_MS', props.SyncTimeoutMs, /^\d+$/],
    ['ACCESS_TOKEN_CLAIMS', props.AccessTokenClaims, /^(true|false)$/],
    ['METADATA_WRITES', props.MetadataWrites, /^(on_change|daily)$/],
  ];
  const secrets: Record<string, string> = {
    SYNC_API_URL: props.SyncApiUrl,
    SYNC_SIGNING_SECRET: signingSecret,
    FAIL_MODE: props.FailMode,
  };
  for (const [name, value, valid] of optional) {
    if (value === undefined || value === '') continue;
    if (!valid.test(value)) throw new Error(`the Action secret ${name} may not be "${value}"`);
    secrets[name] = value;
  }
  return secrets;
}

function parsePosition(position: string): 'first' | 'last' | number {
  return position === 'first' || position === 'last' ? position : Number(position);
}

/** The custom resource protocol: a PUT of the outcome to the pre-signed S3 URL. */
async function respond(
  event: CloudFormationCustomResourceEvent,
  status: 'SUCCESS' | 'FAILED',
  physicalResourceId: string,
  reason: string,
  data?: Record<string, string>,
): Promise<void> {
  const body = JSON.stringify({
    Status: status,
    Reason: reason,
    PhysicalResourceId: physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    ...(data ? { Data: data } : {}),
  });
  const response = await fetch(event.ResponseURL, {
    method: 'PUT',
    // The pre-signed URL is signed without a content type.
    headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(body)) },
    body,
  });
  if (!response.ok) throw new Error(`CloudFormation response rejected: HTTP ${response.status}`);
}

export const handler = createInstallerHandler({ secretsManager: new SecretsManagerClient({}) });
