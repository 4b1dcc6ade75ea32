import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import { GrowingBuffer } from './capped-body.ts';

/**
 * An idle kept-alive connection is closed after this long. Node's agent would keep it forever,
 * while NAT gateways, firewalls and load balancers drop idle connections silently (a NAT gateway
 * after 350 s), so the next login would write into a dead socket; undici, behind fetch, closes
 * idle connections after 4 s when the server sends no `Keep-Alive: timeout` of its own.
 */
const IDLE_SOCKET_MS = 4_000;

/**
 * Keep-alive agents, one per protocol, shared by every HTTP client of a function instance: the
 * CRM's and the AWS SDK's (functions/sync/aws-clients.ts). A login after the first reuses the
 * connections the first one opened, and a new instance builds one pool, not three. (The pool
 * is per origin, so the SDK's socket timeouts never reach the CRM's sockets.)
 */
export const KEEP_ALIVE_AGENTS = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 50, timeout: IDLE_SOCKET_MS }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 50, timeout: IDLE_SOCKET_MS }),
} as const;

/** Content codings we ask for and decode (RFC 9110 §8.4.1; x-gzip is gzip, §8.4.1.3). */
const DECODED = new Set(['gzip', 'x-gzip', 'deflate', 'br']);
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
export async function sendBounded(url: URL, init: BoundedRequest): Promise<BoundedResponse> {
  try {
    return await sendOnce(url, init);
  } catch (error) {
    // A kept-alive connection the server closed as we reused it (its close still in flight, or
    // the process frozen between two invocations): the request never reached the server, so
    // it is sent once more, on a new connection, as Node's documentation advises
    // (https://nodejs.org/api/http.html#requestreusedsocket). The lookup is a read.
    if (!(error instanceof ReusedSocketClosed) || init.signal.aborted) throw error;
    return sendOnce(url, init);
  }
}

/** A reused connection failed before any answer arrived. */
class ReusedSocketClosed extends Error {
  override readonly name = 'ReusedSocketClosed';
}

function sendOnce(url: URL, init: BoundedRequest): Promise<BoundedResponse> {
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
    let answered = false;
    // `on`, not `once`: a socket error after the answer arrived must find a listener too (a
    // second settle is a no-op), or it would be thrown as an uncaught exception.
    request.on('error', (error: NodeJS.ErrnoException) => {
      const closedUnderUs =
        request.reusedSocket &&
        !answered &&
        (error.code === 'ECONNRESET' || error.code === 'EPIPE');
      reject(closedUnderUs ? new ReusedSocketClosed(error.message) : error);
    });
    request.once('response', (response) => {
      answered = true;
      resolve(boundedResponse(response, init.signal));
    });
    request.end(init.method === 'POST' ? body : undefined);
  });
}

function boundedResponse(response: IncomingMessage, signal: AbortSignal): BoundedResponse {
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
    readCapped: (maxBytes) => readCapped(response, maxBytes, signal),
    abandon: () => {
      if (!complete) response.destroy();
    },
  };
}

function readCapped(
  response: IncomingMessage,
  maxBytes: number,
  signal: AbortSignal,
): Promise<Buffer | undefined> {
  const codings = (response.headers['content-encoding'] ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  if (codings.length > MAX_CODINGS || codings.some((c) => !DECODED.has(c))) {
    response.destroy();
    return Promise.reject(new UndecodableBody('the answer is in a content coding not offered'));
  }
  return new Promise((resolve, reject) => {
    const body = new GrowingBuffer(maxBytes);
    // Applied in the reverse of the order listed: the last coding named was applied last.
    const decoders: Transform[] = [];
    let settled = false;
    const onAbort = () => settle({ error: new Error('the deadline passed') });
    // The first outcome wins; whatever the outcome, the decoders go, and any outcome but the
    // body's end drops the connection too.
    const settle = (outcome: { body: Buffer | undefined } | { error: Error }) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      for (const decoder of decoders) decoder.destroy();
      if ('body' in outcome && outcome.body !== undefined) return resolve(outcome.body);
      response.destroy();
      if ('error' in outcome) reject(outcome.error);
      else resolve(undefined);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    response.once('error', (error) => settle({ error }));
    // A connection closed before the body's end, without an error of its own.
    response.once('close', () => {
      if (!response.complete) settle({ error: new Error('the answer was cut short') });
    });
    const read = (stream: NodeJS.ReadableStream) => {
      stream.on('data', (chunk: Buffer) => {
        if (!settled && !body.append(chunk)) settle({ body: undefined });
      });
      stream.once('end', () => settle({ body: body.bytes() }));
    };
    const layers = [...codings].reverse();
    if (layers.length === 0) return read(response);
    // No bytes at all is no valid encoding of anything.
    response.once('end', () => {
      if (decoders.length === 0) settle({ error: new UndecodableBody('an empty encoded answer') });
    });
    // The first layer's decoder is chosen by the first bytes (deflate may come raw).
    response.once('data', (first: Buffer) => {
      let stream: NodeJS.ReadableStream = response;
      for (const coding of layers) {
        const decoder = decoderFor(coding, stream === response ? first : undefined);
        decoder.once('error', () =>
          settle({ error: new UndecodableBody('the answer is not valid in its coding') }),
        );
        decoders.push(decoder);
        stream = stream.pipe(decoder);
      }
      (decoders[0] as Transform).write(first);
      read(stream);
    });
  });
}

/**
 * The decoder of one content coding. `deflate` is the zlib format (RFC 9110 §8.4.1.2), which
 * some servers send raw instead; as undici does, a first byte that is no zlib header (its low
 * nibble, the method, is not 8) is read as raw deflate.
 */
function decoderFor(coding: string, first: Buffer | undefined): Transform {
  if (coding === 'br') return createBrotliDecompress();
  if (coding === 'deflate') {
    const raw = first !== undefined && first.length > 0 && ((first[0] as number) & 0x0f) !== 8;
    return raw ? createInflateRaw() : createInflate();
  }
  return createGunzip();
}
