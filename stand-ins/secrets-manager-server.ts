import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * Secrets Manager's GetSecretValue over its real wire protocol (AWS JSON 1.1), so the real SDK
 * client is exercised end to end. Values can be changed (a rotation) or the service taken down.
 */
export async function startSecretsManagerServer(initial: Record<string, string>) {
  const secrets = new Map(Object.entries(initial));
  const calls: string[] = [];
  let down = false;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(body));
      };
      const target = req.headers['x-amz-target'];
      const { SecretId } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        SecretId: string;
      };
      calls.push(SecretId);
      if (down) return reply(500, { __type: 'InternalServiceError', message: 'unavailable' });
      if (target !== 'secretsmanager.GetSecretValue') {
        return reply(400, { __type: 'InvalidRequestException', message: 'unsupported' });
      }
      const value = secrets.get(SecretId);
      if (value === undefined) {
        return reply(400, { __type: 'ResourceNotFoundException', message: 'no such secret' });
      }
      return reply(200, { ARN: SecretId, Name: SecretId, SecretString: value, VersionId: 'v1' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    calls,
    set: (id: string, value: string) => secrets.set(id, value),
    setDown: (value: boolean) => {
      down = value;
    },
    client: () =>
      new SecretsManagerClient({
        endpoint,
        region: 'eu-west-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 1,
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
