import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CachedValue } from '../adapters/cached-value.ts';
import { secretReader } from '../adapters/secrets-manager.ts';
import type { SecretSetting } from '../config.ts';
import type { AbsorbedFault } from '../domain/sync.ts';

/**
 * Reads secrets the way every function does: inline (local stack, tests) or from Secrets
 * Manager, cached for `maxAgeSeconds` so a rotation lands without a redeploy, and the last
 * value served when a refresh fails. A Secrets Manager client is only made when one is needed.
 */
export function secretSource(options: {
  readonly maxAgeSeconds: number;
  readonly secretsManager?: SecretsManagerClient | undefined;
  readonly clock?: (() => number) | undefined;
  readonly onFault: (fault: AbsorbedFault) => void;
}) {
  let client = options.secretsManager;
  const secretsManager = () => {
    client ??= new SecretsManagerClient({});
    return client;
  };
  // Parsed once per load, not per request: the cached value is what the hot path uses.
  return <T = string>(
    setting: SecretSetting,
    parse: (raw: string) => T = (raw) => raw as T,
  ): CachedValue<T> => {
    const read =
      setting.source === 'inline'
        ? async () => setting.value
        : secretReader(secretsManager(), setting.secretId);
    return new CachedValue(async () => parse(await read()), {
      maxAgeMs: options.maxAgeSeconds * 1000,
      ...(options.clock ? { clock: options.clock } : {}),
      onStaleServed: (error) => options.onFault({ operation: 'secret_read', error }),
    });
  };
}

export type SecretSource = ReturnType<typeof secretSource>;
