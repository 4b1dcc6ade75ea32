import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/**
 * Keep-alive agents, one per protocol, shared by every HTTP client of a function instance: the
 * CRM's and the AWS SDK's (functions/sync/aws-clients.ts). A login after the first reuses the
 * connections the first one opened, and a new instance builds one pool, not three.
 */
export const KEEP_ALIVE_AGENTS = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 50 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 50 }),
} as const;

/** Content codings we ask for and decode (RFC 9110 §8.4.1), outermost last as sent. */
const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};
const ACCEPT_ENCODING = 'gzip, deflate, br';
/** More layers than anyone sends are a way to multiply work, as in undici's CVE-2025-47279 fix. */
const MAX_CODINGS = 2;

/** The body is in a coding we did not offer, or is not valid in the one it names. */
export class UndecodableBody extends Error {
  override readonly name = 'UndecodableBody';
}

export interface BoundedResponse {
  readonly status: number;
  /** A header's value, repeated ones joined with ", "; undefined when absent. */
  header(name: string): string | undefined;
  /**
   * The body, decoded, read to its end or to `maxBytes` of decoded bytes: `undefined` once more
   * arrive, and the connection is dropped. Rejects with UndecodableBody for a coding we cannot
   * read, and with the socket's error on a reset or when the request's signal aborts.
   */
  readCapped(maxBytes: number): Promise<Buffer | undefined>;
  /** Drops the connection unless the body was read to its end (then it serves the next call). */
  abandon(): void;
}

export interface BoundedRequest {
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Aborts connecting, sending and every read of the answer. */
  readonly signal: AbortSignal;
}

/**
 * One HTTP exchange on node:http(s), for a server we do not trust (the CRM). It replaces fetch
 * on the login path: the first fetch of a process loads and compiles undici, about 20 ms of a
 * new Lambda instance's first login (`npm run bench -- --only=cold`), while the AWS SDK has
 * loaded node:http already. What the login path relied on fetch for is kept:
 * - a redirect is handed back as it came, never followed (node:http never follows one);
 * - gzip, deflate and br are decoded as the body is read, so the cap counts decoded bytes and a
 *   compression bomb inflates no further than the cap;
 * - the signal covers the whole exchange, headers and body.
 * Resolves once the status line and headers are in.
 */
export function sendBounded(url: URL, init: BoundedRequest): Promise<BoundedResponse> {
  const https = url.protocol === 'https:';
  const body = init.body ?? '';
  return new Promise((resolve, reject) => {
    const request = (https ? httpsRequest : httpRequest)(url, {
      method: init.method,
      headers: {
        ...init.headers,
        'accept-encoding': ACCEPT_ENCODING,
        ...(init.method === 'POST' ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
      },
      agent: https ? KEEP_ALIVE_AGENTS.https : KEEP_ALIVE_AGENTS.http,
      signal: init.signal,
    });
    // `on`, not `once`: a socket error after the answer arrived must find a listener too (a
    // second settle is a no-op), or it would be thrown as an uncaught exception.
    request.on('error', reject);
    request.once('response', (response) => resolve(boundedResponse(response)));
    request.end(init.method === 'POST' ? body : undefined);
  });
}

function boundedResponse(response: IncomingMessage): BoundedResponse {
  // A body never read (a 404, a redirect) can still fail, e.g. reset by the server: the fault
  // belongs to this exchange, never to the process. readCapped listens for itself.
  response.on('error', () => undefined);
  let complete = false;
  response.once('end', () => {
    complete = true;
  });
  return {
    status: response.statusCode ?? 0,
    header: (name) => {
      const value = response.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    readCapped: (maxBytes) => readCapped(response, maxBytes),
    abandon: () => {
      if (!complete) response.destroy();
    },
  };
}

function readCapped(response: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const codings = (response.headers['content-encoding'] ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length > MAX_CODINGS || codings.some((c) => DECODERS[c] === undefined)) {
    response.destroy();
    return Promise.reject(new UndecodableBody('the answer is in a content coding not offered'));
  }
  // Applied in the reverse of the order listed: the last coding named was applied last.
  const decoders = codings.reverse().map((c) => (DECODERS[c] as () => Transform)());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    // The first outcome wins; any but the body's end drops the connection and the decoders.
    const settle = (outcome: { body: Buffer | undefined } | { error: Error }) => {
      if (settled) return;
      settled = true;
      if ('body' in outcome && outcome.body !== undefined) return resolve(outcome.body);
      response.destroy();
      for (const decoder of decoders) decoder.destroy();
      if ('error' in outcome) reject(outcome.error);
      else resolve(undefined);
    };
    response.once('error', (error) => settle({ error }));
    // A connection closed before the body's end, without an error of its own.
    response.once('close', () => {
      if (!response.complete) settle({ error: new Error('the answer was cut short') });
    });
    let stream: NodeJS.ReadableStream = response;
    for (const decoder of decoders) {
      decoder.once('error', () =>
        settle({ error: new UndecodableBody('the answer is not valid in its coding') }),
      );
      stream = stream.pipe(decoder);
    }
    stream.on('data', (chunk: Buffer) => {
      if (settled) return;
      total += chunk.length;
      if (total > maxBytes) settle({ body: undefined });
      else chunks.push(chunk);
    });
    stream.once('end', () => settle({ body: Buffer.concat(chunks, total) }));
  });
}
