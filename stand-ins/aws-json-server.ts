import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AwsJsonReply {
  readonly status: number;
  readonly body: unknown;
}

/**
 * A local server speaking the AWS JSON protocol (1.0 for SQS, 1.1 for Secrets Manager): one
 * POST per call, the operation in `x-amz-target` (`<Service>.<Operation>`), a JSON body in and
 * out, errors as `{ "__type", "message" }`. The real SDK clients are pointed at it.
 * https://smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html
 */
export async function startAwsJsonServer(
  version: '1.0' | '1.1',
  handle: (target: string, input: Record<string, unknown>) => AwsJsonReply,
) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        input = {};
      }
      const { status, body } = handle(String(req.headers['x-amz-target'] ?? ''), input);
      res.writeHead(status, { 'content-type': `application/x-amz-json-${version}` });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
