import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CrmReply {
  status?: number;
  /** Sent as JSON unless `raw` is given. */
  body?: unknown;
  raw?: string;
  delayMs?: number;
}

export interface CrmRequest {
  headers: IncomingHttpHeaders;
  body: { phoneNumber?: string; email?: string; extended?: boolean };
}

/**
 * A CRM speaking the generic protocol on a real socket, whose answers each test scripts.
 * By default it knows the contacts given to `start` and answers 404 for anyone else.
 */
export async function startCrmServer(contacts: Record<string, Record<string, unknown>> = {}) {
  const requests: CrmRequest[] = [];
  let script: ((request: CrmRequest) => CrmReply) | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request: CrmRequest = {
        headers: req.headers,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'),
      };
      requests.push(request);
      const key = request.body.phoneNumber ?? request.body.email ?? '';
      const known = contacts[key];
      const reply =
        script?.(request) ??
        (known ? { status: 200, body: known } : { status: 404, body: { error: 'none' } });
      setTimeout(() => {
        if (res.destroyed) return;
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
        res.end(reply.raw ?? JSON.stringify(reply.body ?? {}));
      }, reply.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/lookup`,
    requests,
    /** Script every following answer; `undefined` restores the default. */
    answer(next: ((request: CrmRequest) => CrmReply) | undefined) {
      script = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type CrmServer = Awaited<ReturnType<typeof startCrmServer>>;
