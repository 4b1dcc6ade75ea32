import { readCappedBody } from '#shared/adapters/capped-body.ts';
import { signAnew } from './request-signature.ts';
import { userStateUrl } from './settings.ts';
import { isObject, readUserSyncState, type ServiceView } from './user-state.ts';

/**
 * The two calls the tool makes to the sync API (docs/sync-api.md), signed like the Action's,
 * each bounded: a timeout from connect to last byte, at most MAX_ANSWER_BYTES read, and no
 * redirect followed (a signed request goes to the URL it was meant for, or nowhere). Each
 * request, a retry too, is signed as it is sent, with a signature never sent before.
 */

export interface SyncApiTarget {
  readonly syncUrl: string;
  readonly secret: string;
  readonly timeoutMs: number;
  /** What to check when nothing answers, e.g. that npm start runs. */
  readonly whenUnreachable: string;
}

/** The tool could not get an answer it can explain from: exit code 1. */
export class CouldNotAsk extends Error {
  override readonly name = 'CouldNotAsk';
}

/** Far more than either answer needs (a few hundred bytes, claims included). */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** GET /v1/users/<id>: the user's state, or `unknown` for the contract's 404 user_not_found. */
export async function fetchUserState(target: SyncApiTarget, userId: string): Promise<ServiceView> {
  const url = userStateUrl(target.syncUrl, userId);
  let answer = await call(target, url, 'GET', '');
  // The service takes a GET's signature once, and another run (another on-call) may have sent
  // the same one: signed in the same second, for any user. A GET reads only, so once more.
  if (answer.status === 401 && answer.code === 'invalid_signature') {
    answer = await call(target, url, 'GET', '');
  }
  if (answer.status === 404 && answer.code === 'user_not_found') return { kind: 'unknown' };
  if (answer.status !== 200) throw refusal(answer, url, 'GET /v1/users');
  const state = readUserSyncState(answer.body);
  if (!state) {
    throw new CouldNotAsk(
      `the answer of ${url} is not the contract of GET /v1/users (docs/sync-api.md)${requestId(answer)}`,
    );
  }
  return { kind: 'known', state };
}

export interface ResyncBody {
  readonly user_id: string;
  readonly phone_number?: string;
  readonly email?: string;
}

export interface ResyncAnswer {
  /** 200, or 503 crm_unavailable: the CRM gave no answer and nothing is known yet. */
  readonly httpStatus: number;
  /** synced | cached | not_found | stale, or crm_unavailable. */
  readonly status: string;
  readonly crmId: string | null;
}

/** A forced POST /v1/sync: the CRM is asked now (at most once a minute per user, by contract). */
export async function forceSync(target: SyncApiTarget, body: ResyncBody): Promise<ResyncAnswer> {
  const answer = await call(
    target,
    target.syncUrl,
    'POST',
    JSON.stringify({ ...body, force: true }),
  );
  if (answer.status === 503 && answer.code === 'crm_unavailable') {
    return { httpStatus: 503, status: 'crm_unavailable', crmId: null };
  }
  const b = answer.body;
  if (answer.status !== 200) throw refusal(answer, target.syncUrl, 'POST /v1/sync');
  if (!isObject(b) || typeof b.status !== 'string') {
    throw new CouldNotAsk(
      `the answer of POST ${target.syncUrl} is not the contract's${requestId(answer)}`,
    );
  }
  return {
    httpStatus: 200,
    status: b.status,
    crmId: typeof b.crm_id === 'string' ? b.crm_id : null,
  };
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  /** The contract's error code, when the body is an error. */
  readonly code: string | undefined;
  readonly message: string | undefined;
  readonly requestId: string | null;
}

async function call(
  target: SyncApiTarget,
  url: string,
  method: 'GET' | 'POST',
  body: string,
): Promise<Answer> {
  const headers: Record<string, string> = {
    'x-sync-signature': await signAnew(target.secret, body),
  };
  const signal = AbortSignal.timeout(target.timeoutMs);
  if (method === 'POST') headers['content-type'] = 'application/json';
  try {
    const response = await fetch(url, {
      method,
      headers,
      redirect: 'manual',
      signal,
      ...(method === 'POST' ? { body } : {}),
    });
    const rid = response.headers.get('x-request-id');
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new CouldNotAsk(
        `${url} answered a redirect (HTTP ${response.status}), which is not followed: set SYNC_API_URL to the API's own URL`,
      );
    }
    const text = await readCapped(response, url);
    const parsed = parseJson(text);
    const error = isObject(parsed) && isObject(parsed.error) ? parsed.error : undefined;
    return {
      status: response.status,
      body: parsed,
      code: typeof error?.code === 'string' ? error.code : undefined,
      message: typeof error?.message === 'string' ? error.message : undefined,
      requestId: rid,
    };
  } catch (error) {
    if (error instanceof CouldNotAsk) throw error;
    if (signal.aborted) {
      throw new CouldNotAsk(`no answer from ${url} within ${target.timeoutMs} ms`);
    }
    // fetch says only "fetch failed"; the cause says why (ECONNREFUSED: nothing listens).
    const cause = ((error as Error).cause as { code?: string } | undefined)?.code;
    throw new CouldNotAsk(
      `no answer from ${url} (${cause ?? (error as Error).message}): ${target.whenUnreachable}`,
    );
  }
}

/** The body as text, refusing (and hanging up) past MAX_ANSWER_BYTES. */
async function readCapped(response: Response, url: string): Promise<string> {
  const bytes = await readCappedBody(response, MAX_ANSWER_BYTES);
  if (bytes === undefined) {
    throw new CouldNotAsk(`the answer of ${url} is over ${MAX_ANSWER_BYTES} bytes; not read`);
  }
  return bytes.toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What the on-call does about a refusal, by the contract's code. */
function refusal(answer: Answer, url: string, route: string): CouldNotAsk {
  const what = `${url} answered ${answer.status}${answer.code ? ` ${answer.code}` : ''}`;
  const fix = (() => {
    switch (answer.code) {
      case 'invalid_signature':
        // The same code for a signature sent twice (docs/sync-api.md); its message tells which.
        return /used already/.test(answer.message ?? '')
          ? 'the service had taken this signature already (another run signed in the same second, even after a retry): run it again'
          : "SYNC_SIGNING_SECRET must be the service's current (or previous) signing secret";
      case 'signature_expired':
        return "this machine's clock is more than 5 minutes off the service's: fix the clock";
      case 'forbidden_source':
        return "the service's allow-list refuses this machine's address: ask from an allowed network";
      case 'throttled':
        return 'the service is over its request rate (RATE_LIMIT_PER_SECOND): try again in a moment';
      case 'not_found':
      case 'method_not_allowed':
        return `the service has no ${route}: deploy a version that has it`;
      case 'invalid_request':
      case 'invalid_phone_number':
        return answer.message ?? 'the request was refused';
      case 'internal_error':
        return "a fault of the service: look for the request id in the sync service's logs";
      default:
        return answer.status === 404
          ? `no ${route} there: is SYNC_API_URL the URL of POST /v1/sync?`
          : (answer.message ?? 'see the sync service logs');
    }
  })();
  return new CouldNotAsk(`${what}: ${fix}${requestId(answer)}`);
}

function requestId(answer: Answer): string {
  return answer.requestId ? ` (x-request-id ${answer.requestId})` : '';
}
