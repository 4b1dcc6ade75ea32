import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { startAwsJsonServer } from './aws-json-server.ts';
import { localAwsClientOptions } from './local-aws-clients.ts';

/**
 * Secrets Manager's GetSecretValue over its real wire protocol (AWS JSON 1.1), so the real SDK
 * client is exercised end to end. Values can be changed (a rotation) or the service taken down.
 */
export async function startSecretsManagerServer(initial: Record<string, string>) {
  const secrets = new Map(Object.entries(initial));
  const calls: string[] = [];
  let down = false;
  const server = await startAwsJsonServer('1.1', (target, input) => {
    const SecretId = String(input.SecretId);
    calls.push(SecretId);
    if (down)
      return { status: 500, body: { __type: 'InternalServiceError', message: 'unavailable' } };
    if (target !== 'secretsmanager.GetSecretValue') {
      return { status: 400, body: { __type: 'InvalidRequestException', message: 'unsupported' } };
    }
    const value = secrets.get(SecretId);
    if (value === undefined) {
      return {
        status: 400,
        body: { __type: 'ResourceNotFoundException', message: 'no such secret' },
      };
    }
    return {
      status: 200,
      body: { ARN: SecretId, Name: SecretId, SecretString: value, VersionId: 'v1' },
    };
  });
  return {
    endpoint: server.endpoint,
    calls,
    set: (id: string, value: string) => secrets.set(id, value),
    setDown: (value: boolean) => {
      down = value;
    },
    client: () => new SecretsManagerClient(localAwsClientOptions(server.endpoint)),
    close: server.close,
  };
}
