import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ManagementClient } from 'auth0';
import {
  fetchReportingRefusals,
  managementClient,
  parseAuth0Credentials,
} from '../adapters/auth0-client.ts';
import { CachedValue } from '../adapters/cached-value.ts';
import { secretReader } from '../adapters/secrets-manager.ts';

export interface ManagementClientSource {
  readonly domain: string;
  readonly secretId: string;
  readonly secretsManager: SecretsManagerClient;
  /** The credentials are read again after this long, so a rotated client secret lands. Default 5 min. */
  readonly maxAgeMs?: number;
  /** A refused token re-reads the secret at once, but not more often than this. Default 1 s. */
  readonly rereadFloorMs?: number;
  /**
   * With the secret unchanged, a refused client is rebuilt (a new token) at most this often.
   * Default 30 s: each rebuild is a POST /oauth/token, which Auth0 rate-limits and counts
   * against the plan's monthly M2M token quota, and a grant that stays wrong would otherwise
   * cost one per SQS batch. (A client secret Auth0 refuses outright is another matter: the SDK
   * caches only tokens it got, so until the secret is put right each call asks for one.)
   */
  readonly rebuildFloorMs?: number;
  readonly clock?: () => number;
  /** For tests: the SDK's fetch, pointed at a local Management API. */
  readonly fetch?: typeof fetch;
}

/**
 * The Management API client of this container, made from the M2M credentials in Secrets
 * Manager. The credentials are re-read every `maxAgeMs`, and at once when Auth0 refuses the
 * client (a 401 from /oauth/token or /api/v2, a 403 insufficient_scope): rotating the M2M client
 * secret, or fixing its grant, needs no redeploy. The same client object is answered as long as
 * the credentials are unchanged and nothing was refused (the backfill worker keeps one profile
 * writer per client); a refused client whose secret did not change is rebuilt at most every
 * `rebuildFloorMs`. A secret still holding the placeholder is read again on the next call;
 * when Secrets Manager fails, the client already made goes on serving.
 */
export function lazyManagementClient(
  options: ManagementClientSource,
): () => Promise<ManagementClient> {
  const credentials = new CachedValue(secretReader(options.secretsManager, options.secretId), {
    maxAgeMs: options.maxAgeMs ?? 5 * 60_000,
    retryAfterMs: options.rereadFloorMs ?? 1_000,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const baseFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const clock = options.clock ?? Date.now;
  const rebuildFloorMs = options.rebuildFloorMs ?? 30_000;
  let current: { raw: string; client: ManagementClient; builtAt: number } | undefined;
  let refused = false;
  let generation = 0;

  function make(raw: string): ManagementClient {
    generation += 1;
    const mine = generation;
    return managementClient({
      domain: options.domain,
      credentials: parseAuth0Credentials(raw),
      // Only the newest client's refusals count: a late 401 of a replaced one changes nothing.
      fetch: fetchReportingRefusals(baseFetch, () => {
        if (mine !== generation || refused) return;
        refused = true;
        credentials.invalidate();
      }),
    });
  }

  return async () => {
    const raw = await credentials.get();
    if (current && current.raw === raw) {
      if (!refused || clock() - current.builtAt < rebuildFloorMs) return current.client;
    }
    try {
      current = { raw, client: make(raw), builtAt: clock() };
      refused = false;
    } catch (error) {
      // The placeholder, or not JSON: the operator may be putting the value right now.
      credentials.invalidate();
      throw error;
    }
    return current.client;
  };
}
