import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { httpApiEvent, lambdaContext } from './api-gateway-events.ts';

type Handler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

// API Gateway refuses larger payloads itself; the handler's own 16 KiB limit is the one that counts.
const GATEWAY_MAX_BODY = 10 * 1024 * 1024;

/**
 * Serves a Lambda handler the way API Gateway HTTP API (payload format 2.0, `$default` route)
 * calls it, so `npm start` runs exactly the deployed handler.
 */
export async function serveApiGateway(
  handler: Handler,
  options: { host?: string; port?: number } = {},
): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      if (body === undefined) {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end('{"message":"Request Entity Too Large"}');
        return;
      }
      const event = httpApiEvent({
        method: req.method ?? 'GET',
        target: req.url ?? '/',
        headers: req.headers,
        body,
        protocol: `HTTP/${req.httpVersion}`,
        // A socket already gone has no address: none, so an allow-list refuses it (not 127.0.0.1).
        sourceIp: req.socket.remoteAddress ?? '',
      });
      const result = await handler(event, lambdaContext({ timeoutMs: 29_000 }));
      const headers = { ...(result.headers ?? {}) } as Record<string, string>;
      res.writeHead(result.statusCode ?? 200, headers);
      res.end(
        result.body === undefined
          ? undefined
          : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8'),
      );
    } catch {
      // What API Gateway answers when the integration fails.
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"message":"Internal Server Error"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > GATEWAY_MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
