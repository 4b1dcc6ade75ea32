import { CrmFailure } from '../domain/ports.ts';
import {
  type BoundedRequest,
  type BoundedResponse,
  sendBounded,
  UndecodableBody,
} from './bounded-http.ts';
import { utf8OrUndefined } from './capped-body.ts';
import { retryAfterMs } from './retry-after.ts';

/**
 * One exchange with a CRM we do not trust, shared by every CRM adapter (http-crm.ts,
 * hubspot-crm.ts, salesforce-crm.ts), so that each speaks its vendor's protocol and none
 * re-learns the hostile parts:
 * - a redirect is a failure and is never followed, so a credential never leaves for another
 *   origin (node:http never follows one, bounded-http.ts);
 * - the body is read as a stream and abandoned at `maxResponseBytes` of decoded bytes, so a
 *   compression bomb or an endless stream costs at most the cap in memory;
 * - one deadline (`signal`) covers the whole exchange, however slowly the bytes drip in;
 * - a declared `content-length` over the cap is refused unread, a smaller one is not trusted.
 * What the CRM sent never reaches an error message or a log: failures carry a reason code and
 * the HTTP status only.
 */
export interface CrmExchange {
  readonly status: number;
  header(name: string): string | undefined;
  /** The answer as a JSON object; a CrmFailure when it is too large, cut off or not JSON. */
  json(): Promise<Record<string, unknown>>;
  /** The answer as any JSON value (Salesforce's errors are an array). */
  jsonValue(): Promise<unknown>;
}

/** Every CRM request names us: web application firewalls commonly refuse one without. */
export const CRM_USER_AGENT = 'auth0-crm-sync';

/**
 * Sends `init` to `url` and hands the answer to `read`; whatever `read` leaves unread is then
 * abandoned (the connection closed, not drained). A transport fault is a CrmFailure `timeout`
 * once the deadline passed, `network` otherwise.
 */
export async function exchangeWithCrm<T>(
  url: URL,
  init: BoundedRequest,
  maxResponseBytes: number,
  read: (answer: CrmExchange) => Promise<T>,
): Promise<T> {
  let response: BoundedResponse;
  try {
    response = await sendBounded(url, {
      ...init,
      headers: { accept: 'application/json', 'user-agent': CRM_USER_AGENT, ...init.headers },
    });
  } catch {
    throw new CrmFailure(init.signal.aborted ? 'timeout' : 'network');
  }
  const jsonValue = async () => {
    const text = await readCapped(response, maxResponseBytes, init.signal);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new CrmFailure('invalid_response');
    }
  };
  try {
    return await read({
      status: response.status,
      header: (name) => response.header(name),
      jsonValue,
      json: async () => {
        const value = await jsonValue();
        if (typeof value !== 'object' || value === null || Array.isArray(value)) {
          throw new CrmFailure('invalid_response');
        }
        return value as Record<string, unknown>;
      },
    });
  } finally {
    response.abandon();
  }
}

/**
 * The failure every CRM means by these statuses: 3xx (never followed), 401/403 (credentials,
 * after `onUnauthorized`), 429 and 503 with their Retry-After (the circuit breaker's cue), and
 * any other status but `expected`. Undefined for an expected status.
 */
export function statusFailure(
  answer: Pick<CrmExchange, 'status' | 'header'>,
  expected: readonly number[],
  now: number,
  onUnauthorized?: () => void,
): CrmFailure | undefined {
  const { status } = answer;
  if (expected.includes(status)) return undefined;
  if (status >= 300 && status < 400) return new CrmFailure('redirect', status);
  if (status === 401 || status === 403) {
    onUnauthorized?.();
    return new CrmFailure('auth', status);
  }
  if (status === 429 || status === 503) {
    const wait = retryAfterMs(answer.header('retry-after'), now);
    return new CrmFailure(status === 429 ? 'rate_limited' : 'http_status', status, wait);
  }
  return new CrmFailure('http_status', status);
}

/**
 * A credential could not be read before the CRM's deadline: a fault of ours (Secrets Manager),
 * not of the CRM, so it is no CrmFailure and the circuit breaker does not count it.
 */
export class CrmKeyReadTimeout extends Error {
  override readonly name = 'CrmKeyReadTimeout';
}

/**
 * The value, or `late()` (a CrmKeyReadTimeout unless said otherwise) once `signal` aborts
 * first; the work goes on unheeded.
 */
export function beforeDeadline<T>(
  value: Promise<T>,
  signal: AbortSignal,
  late: () => Error = () => new CrmKeyReadTimeout('the CRM key read timed out'),
): Promise<T> {
  if (signal.aborted) return Promise.reject(late());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(late());
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
  // A declared length over the cap is refused unread; a smaller one is not trusted either.
  const declared = Number(response.header('content-length'));
  if (declared > maxBytes) throw new CrmFailure('too_large');
  let bytes: Buffer | undefined;
  try {
    bytes = await response.readCapped(maxBytes);
  } catch (error) {
    if (error instanceof UndecodableBody) throw new CrmFailure('invalid_response');
    throw new CrmFailure(signal.aborted ? 'timeout' : 'network');
  }
  if (bytes === undefined) throw new CrmFailure('too_large');
  // fatal: a body that is not UTF-8 is not the JSON every CRM protocol here promises.
  const text = utf8OrUndefined(bytes);
  if (text === undefined) throw new CrmFailure('invalid_response');
  return text;
}
