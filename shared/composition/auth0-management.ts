import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ManagementClient } from 'auth0';
import { managementClient, parseAuth0Credentials } from '../adapters/auth0-client.ts';
import { secretReader } from '../adapters/secrets-manager.ts';

/**
 * One Management API client per container, made on first use from the M2M credentials in
 * Secrets Manager. An unreadable secret, or one still holding the placeholder, is read again on
 * the next call instead of failing every call of this container.
 */
export function lazyManagementClient(options: {
  readonly domain: string;
  readonly secretId: string;
  readonly secretsManager: SecretsManagerClient;
}): () => Promise<ManagementClient> {
  let client: Promise<ManagementClient> | undefined;
  return () => {
    client ??= secretReader(options.secretsManager, options.secretId)()
      .then((raw) =>
        managementClient({ domain: options.domain, credentials: parseAuth0Credentials(raw) }),
      )
      .catch((error: unknown) => {
        // parseAuth0Credentials throws inside `then`; a second argument to `then` would miss it.
        client = undefined;
        throw error;
      });
    return client;
  };
}
