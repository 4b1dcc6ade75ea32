import { parseJsonObject } from '../domain/json-object.ts';
import { CrmFailure, type CrmLookup } from '../domain/ports.ts';
import type { MatchKey } from '../domain/sync-request.ts';
import { type BoundedResponse, sendBounded, UndecodableBody } from './bounded-http.ts';
import { utf8OrUndefined } from './capped-body.ts';
import { retryAfterMs } from './retry-after.ts';

export interface HttpCrmOptions {
  readonly url: string;
  /** Read per call through a cache, so a rotated key is picked up without a redeploy. */
  readonly apiKey: () => Promise<string>;
  /** Covers connect, headers and every byte of the body; keeps the Action's own budget intact. */
  readonly timeoutMs: number;
  /** Called when the CRM refuses the key, e.g. to drop a cached key that was just rotated. */
  readonly onUnauthorized?: () => void;
  /** Cap on the answer, counted on the decoded bytes (after any gzip/deflate/br inflation). */
  readonly maxResponseBytes: number;
  readonly clock?: () => number;
}

/**
 * The generic HTTP CRM (docs/sync-api.md): `POST <url>` with `x-api-key`, body
 * `{"phoneNumber": "<E.164>", "extended": true}`; 200 with an object is a match, 404 is none,
 * anything else is a failure. The CRM is treated as possibly hostile:
 * - a redirect is a failure and is never followed, so the key never leaves for another origin;
 * - the body is read as a stream and abandoned at `maxResponseBytes` of decoded bytes, so a
 *   compression bomb or an endless stream costs at most the cap in memory (gzip, deflate and
 *   br are inflated chunk by chunk as they arrive, bounded-http.ts);
 * - one deadline covers the whole exchange, however slowly the bytes drip in;
 * - a 429 or 503 reports its Retry-After, for the circuit breaker.
 * What the CRM sent never reaches an error message or a log.
 */
export class HttpCrm implements CrmLookup {
  private readonly clock: () => number;
  private readonly url: URL;

  constructor(private readonly options: HttpCrmOptions) {
    this.clock = options.clock ?? Date.now;
    this.url = new URL(options.url);
  }

  async find(key: MatchKey): Promise<Readonly<Record<string, unknown>> | null> {
    const body =
      key.kind === 'phone'
        ? { phoneNumber: key.e164, extended: true }
        : { email: key.email, extended: true };
    // The deadline starts before the key is read: a Secrets Manager refresh is part of the call.
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const apiKey = await beforeDeadline(this.options.apiKey(), signal);
    let response: BoundedResponse;
    try {
      // Never follows a 3xx (bounded-http.ts): following would re-send the key elsewhere.
      response = await sendBounded(this.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          // Web application firewalls commonly refuse requests without one (docs/sync-api.md).
          'user-agent': 'auth0-crm-sync',
          'x-api-key': apiKey,
        },
        body: JSON.stringify(body),
        signal,
      });
    } catch {
      throw new CrmFailure(signal.aborted ? 'timeout' : 'network');
    }
    try {
      return await this.readAnswer(response, signal);
    } finally {
      // Whatever was not read is abandoned, which closes the connection instead of draining it.
      response.abandon();
    }
  }

  private async readAnswer(
    response: BoundedResponse,
    signal: AbortSignal,
  ): Promise<Readonly<Record<string, unknown>> | null> {
    const { status } = response;
    if (status === 404) return null;
    if (status >= 300 && status < 400) throw new CrmFailure('redirect', status);
    if (status === 401 || status === 403) {
      this.options.onUnauthorized?.();
      throw new CrmFailure('auth', status);
    }
    if (status === 429 || status === 503) {
      const wait = retryAfterMs(response.header('retry-after'), this.clock());
      throw new CrmFailure(status === 429 ? 'rate_limited' : 'http_status', status, wait);
    }
    if (status !== 200) throw new CrmFailure('http_status', status);

    // A declared length over the cap is refused unread; a smaller one is not trusted either.
    const declared = Number(response.header('content-length'));
    if (declared > this.options.maxResponseBytes) throw new CrmFailure('too_large');
    const text = await readCapped(response, this.options.maxResponseBytes, signal);
    const record = parseJsonObject(text);
    if (!record) throw new CrmFailure('invalid_response');
    return record;
  }
}

/**
 * The CRM key could not be read before the CRM's deadline: a fault of ours (Secrets Manager),
 * not of the CRM, so it is no CrmFailure and the circuit breaker does not count it.
 */
export class CrmKeyReadTimeout extends Error {
  override readonly name = 'CrmKeyReadTimeout';
}

/** The value, or a CrmKeyReadTimeout once `signal` aborts first (the read goes on unheeded). */
function beforeDeadline<T>(value: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new CrmKeyReadTimeout('the CRM key read timed out'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new CrmKeyReadTimeout('the CRM key read timed out'));
    signal.addEventListener('abort', onAbort, { once: true });
    value.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** The body as UTF-8 text, or a CrmFailure once more than `maxBytes` decoded bytes arrive. */
async function readCapped(response: BoundedResponse, maxBytes: number, signal: AbortSignal) {
  let bytes: Buffer | undefined;
  try {
    bytes = await response.readCapped(maxBytes);
  } catch (error) {
    if (error instanceof UndecodableBody) throw new CrmFailure('invalid_response');
    throw new CrmFailure(signal.aborted ? 'timeout' : 'network');
  }
  if (bytes === undefined) throw new CrmFailure('too_large');
  // fatal: a body that is not UTF-8 is not the JSON the protocol promises.
  const text = utf8OrUndefined(bytes);
  if (text === undefined) throw new CrmFailure('invalid_response');
  return text;
}
