import { ManagementClient } from 'auth0';
import * as z from 'zod/mini';
import { buildAction } from '#infra/action-bundle.ts';
import {
  ActionInstaller,
  type ActionInstallSpec,
  type InstallerOptions,
  type InstallPlan,
} from '#shared/adapters/auth0-action-installer.ts';
import { ConfigError, parseSettings } from '#shared/config.ts';
import { ClaimMappingError, checkAccessTokenNamespace } from '#shared/domain/claims.ts';

/** Settings of `npm run action:deploy`, from the environment. */
const settings = z.object({
  AUTH0_DOMAIN: z
    .string()
    .check(z.regex(/^[a-z0-9.-]+$/i, 'must be a tenant domain such as acme.eu.auth0.com')),
  AUTH0_CLIENT_ID: z.string().check(z.minLength(1, 'the M2M application client id')),
  AUTH0_CLIENT_SECRET: z.string().check(z.minLength(1, 'the M2M application client secret')),
  SYNC_API_URL: z.url({ protocol: /^https?$/, error: 'the full URL of POST /v1/sync' }),
  SYNC_SIGNING_SECRET: z
    .string()
    .check(z.minLength(16, 'the current signing secret (16+ characters)')),
  ACTION_NAME: z._default(z.string().check(z.minLength(1)), 'auth0-crm-sync'),
  ACTION_POSITION: z._default(
    z.string().check(z.regex(/^(first|last|\d+)$/, 'first, last or a 0-based index')),
    'last',
  ),
  FAIL_MODE: z.optional(z.enum(['open', 'closed'])),
  SYNC_TIMEOUT_MS: z.optional(z.string().check(z.regex(/^\d+$/, 'milliseconds'))),
  ACCESS_TOKEN_CLAIMS: z.optional(z.enum(['true', 'false'])),
  /**
   * The sync service's CLAIM_NAMESPACE. The Action does not read it (the claims come named from
   * the service); it is asked for only to check it against ACCESS_TOKEN_CLAIMS=true.
   */
  CLAIM_NAMESPACE: z.optional(z.string()),
  /** When the Action rewrites app_metadata.crm; the Action's default is on_change. */
  METADATA_WRITES: z.optional(z.enum(['on_change', 'daily'])),
});

export type DeploySettings = z.infer<typeof settings>;

export function readDeploySettings(env: Record<string, string | undefined>): DeploySettings {
  const s = parseSettings(settings, env, 'configuration');
  if (s.ACCESS_TOKEN_CLAIMS === 'true') checkNamespace(s.CLAIM_NAMESPACE);
  return s;
}

/**
 * With the claims on access tokens, Auth0 drops those not namespaced by an http(s) URL, silently
 * (checkAccessTokenNamespace); `cdk synth` checks the stack's claimNamespace the same way.
 */
function checkNamespace(namespace: string | undefined): void {
  const setting = 'CLAIM_NAMESPACE (with ACCESS_TOKEN_CLAIMS=true)';
  if (namespace === undefined || namespace.trim() === '') {
    throw new ConfigError(
      `Invalid configuration: ${setting}: must be set to the sync service's CLAIM_NAMESPACE`,
    );
  }
  try {
    checkAccessTokenNamespace(namespace);
  } catch (error) {
    if (!(error instanceof ClaimMappingError)) throw error;
    throw new ConfigError(`Invalid configuration: ${setting}: ${error.message}`);
  }
}

export function installSpec(s: DeploySettings, code: string): ActionInstallSpec {
  const position = s.ACTION_POSITION;
  return {
    name: s.ACTION_NAME,
    code,
    position: position === 'first' || position === 'last' ? position : Number(position),
    secrets: {
      SYNC_API_URL: s.SYNC_API_URL,
      SYNC_SIGNING_SECRET: s.SYNC_SIGNING_SECRET,
      ...(s.FAIL_MODE ? { FAIL_MODE: s.FAIL_MODE } : {}),
      ...(s.SYNC_TIMEOUT_MS ? { SYNC_TIMEOUT_MS: s.SYNC_TIMEOUT_MS } : {}),
      ...(s.ACCESS_TOKEN_CLAIMS ? { ACCESS_TOKEN_CLAIMS: s.ACCESS_TOKEN_CLAIMS } : {}),
      ...(s.METADATA_WRITES ? { METADATA_WRITES: s.METADATA_WRITES } : {}),
    },
  };
}

/** Describes a plan for a person; secret values never appear, only their names. */
export function describePlan(plan: InstallPlan, spec: ActionInstallSpec): string {
  const lines = plan.steps.map((step) => {
    switch (step.kind) {
      case 'create_action':
        return `create Action "${step.name}" (runtime node22, secrets ${Object.keys(spec.secrets).join(', ')})`;
      case 'update_action':
        return `update Action ${step.id} (code and secrets ${Object.keys(spec.secrets).join(', ')})`;
      case 'deploy_action':
        return `deploy Action "${step.name}"`;
      case 'bind':
        return `bind post-login Actions in this order: ${step.order.join(' → ')}`;
      case 'unbind':
        return `unbind; post-login order becomes: ${step.order.join(' → ') || '(none)'}`;
    }
    return '';
  });
  if (lines.length === 0)
    return `nothing to do: "${spec.name}" is deployed and bound (${plan.order.join(' → ')})`;
  return lines.map((l, i) => `${i + 1}. ${l}`).join('\n');
}

export interface DeployOptions {
  readonly dryRun: boolean;
  /** For tests: the SDK's fetch option, pointed at a local Management API. */
  readonly fetch?: typeof fetch;
  /** For tests: short polls and bounds. */
  readonly installer?: InstallerOptions;
}

export async function deployAction(
  env: Record<string, string | undefined>,
  options: DeployOptions,
) {
  const s = readDeploySettings(env);
  const { code } = await buildAction();
  const spec = installSpec(s, code);
  const client = new ManagementClient({
    domain: s.AUTH0_DOMAIN,
    clientId: s.AUTH0_CLIENT_ID,
    clientSecret: s.AUTH0_CLIENT_SECRET,
    // The SDK retries 429 and 5xx itself, honouring Retry-After / X-RateLimit-Reset.
    maxRetries: 5,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const installer = new ActionInstaller(client, options.installer ?? {});
  const plan = options.dryRun ? await installer.plan(spec) : await installer.apply(spec);
  return { plan, spec, text: describePlan(plan, spec) };
}

async function main(): Promise<void> {
  const dryRun = process.argv.includes('--dry-run');
  const { text } = await deployAction(process.env, { dryRun });
  process.stdout.write(`${dryRun ? 'Plan (dry run, nothing changed):' : 'Applied:'}\n${text}\n`);
}

if (process.argv[1]?.endsWith('deploy-action.ts')) {
  main().catch((error: unknown) => {
    const status = (error as { statusCode?: number }).statusCode;
    process.stderr.write(
      `action:deploy failed${status ? ` (HTTP ${status})` : ''}: ${(error as Error).message}\n`,
    );
    process.exit(1);
  });
}
