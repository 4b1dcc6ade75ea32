import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HostileBehaviour, respondHostile } from './hostile-crm.ts';

export interface CrmReply {
  status?: number;
  headers?: Record<string, string>;
  /** Sent as JSON unless `raw` is given. */
  body?: unknown;
  raw?: string;
  delayMs?: number;
  /** Instead of all the above: what a hostile or broken CRM does (hostile-crm.ts). */
  hostile?: HostileBehaviour;
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
  let abandoned = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const request: CrmRequest = { headers: req.headers, body: parseBody(text) };
      requests.push(request);
      res.on('close', () => {
        if (!res.writableFinished) abandoned++;
      });
      const key = request.body.phoneNumber ?? request.body.email ?? '';
      const known = contacts[key];
      const reply =
        script?.(request) ??
        (known ? { status: 200, body: known } : { status: 404, body: { error: 'none' } });
      setTimeout(() => {
        if (res.destroyed) return;
        if (reply.hostile) {
          respondHostile(reply.hostile, res);
          return;
        }
        res.writeHead(reply.status ?? 200, {
          'content-type': 'application/json',
          ...reply.headers,
        });
        res.end(reply.raw ?? JSON.stringify(reply.body ?? {}));
      }, reply.delayMs ?? 0);
    });
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/lookup`,
    origin,
    requests,
    /** How many TCP connections clients opened: keep-alive makes it fewer than the requests. */
    connections: () => connections,
    /** How many answers the client hung up on before they were fully sent. */
    abandoned: () => abandoned,
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

/** A followed redirect arrives without a JSON body: it is recorded all the same. */
function parseBody(text: string): CrmRequest['body'] {
  try {
    return JSON.parse(text || '{}') as CrmRequest['body'];
  } catch {
    return {};
  }
}

/** What a hostile CRM is told to answer: a reply like any other, or a hostile behaviour. */
export type HostileAnswer = CrmReply | HostileBehaviour;

/**
 * A CRM server answering every request with `initial` until
 * `behave` says otherwise.
 */
export async function startHostileCrm(initial: HostileAnswer = { status: 404 }) {
  const crm = await startCrmServer();
  let answer = initial;
  crm.answer(() => ('kind' in answer ? { hostile: answer } : answer));
  return {
    ...crm,
    behave(next: HostileAnswer) {
      answer = next;
    },
  };
}

export type HostileCrm = Awaited<ReturnType<typeof startHostileCrm>>;
