import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** Reads the current string value of a secret; the caller caches it (see CachedValue). */
export function secretReader(
  client: SecretsManagerClient,
  secretId: string,
): () => Promise<string> {
  return async () => {
    const result = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (result.SecretString === undefined || result.SecretString.length === 0) {
      // The name only: the ARN is configuration, the value is never logged.
      throw new Error(`secret ${secretId} has no string value yet; set it with put-secret-value`);
    }
    return result.SecretString;
  };
}
