import { sign } from '#shared/domain/signature.ts';
import type { ClaimValue, PostLoginApi, PostLoginEvent } from './auth0-types.ts';
import {
  type CrmMetadata,
  claimsFrom,
  isObject,
  type MetadataWrites,
  readCrmMetadata,
  readMetadataWrites,
  shouldWriteMetadata,
} from './crm-metadata.ts';

/**
 * The post-login Action (docs/auth0-action.md). Fresh CRM data in app_metadata means
 * no call at all; otherwise one signed call to the sync API, cut off after SYNC_TIMEOUT_MS, and
 * a metadata write only as METADATA_WRITES allows. It never throws and never logs a phone
 * number, email, secret or signature.
 */
export async function onExecutePostLogin(event: PostLoginEvent, api: PostLoginApi): Promise<void> {
  const settings = readSettings(event?.secrets ?? {});
  const known = readCrmMetadata(event?.user?.app_metadata?.crm);
  try {
    // The value is not logged: it is a secret's, and could hold anything.
    if (settings.ignored) {
      log('setting_ignored', { setting: settings.ignored, using: settings.metadataWrites });
    }
    // Refresh-token exchanges happen in the background, often; the last login's data serves.
    if (event.transaction?.protocol === 'oauth2-refresh-token') {
      if (known) setClaims(api, claimsFrom(known), settings.accessTokenClaims);
      return;
    }
    if (known && Date.parse(known.fresh_until) > Date.now()) {
      setClaims(api, claimsFrom(known), settings.accessTokenClaims);
      return;
    }
    const { phone_number, email } = event.user;
    if (!phone_number && !email) {
      // Nothing the CRM could match on: not a failure of the service, so never a denial.
      log('skipped', { reason: 'no_match_key' });
      if (known) setClaims(api, claimsFrom(known), settings.accessTokenClaims);
      return;
    }
    const result = await callSync(settings, {
      user_id: event.user.user_id,
      ...(phone_number ? { phone_number } : {}),
      ...(email ? { email } : {}),
    });
    if (result.ok) {
      setClaims(api, result.answer.claims, settings.accessTokenClaims);
      const { app_metadata } = result.answer;
      const wrote = shouldWriteMetadata(
        settings.metadataWrites,
        event.user.app_metadata?.crm,
        app_metadata,
      );
      if (wrote) api.user.setAppMetadata('crm', app_metadata);
      log('synced', {
        status: result.answer.status,
        ms: result.ms,
        wrote,
        ...answered(result),
      });
      return;
    }
    failed(api, settings, known, result.reason, result.ms, answered(result));
  } catch (error) {
    failed(api, settings, known, error instanceof Error ? error.name : 'error', undefined, {});
  }
}

interface Settings {
  readonly url: string | undefined;
  readonly secret: string | undefined;
  readonly timeoutMs: number;
  readonly failClosed: boolean;
  readonly accessTokenClaims: boolean;
  readonly metadataWrites: MetadataWrites;
  /** The name of a secret whose value was not understood, so that its default applies. */
  readonly ignored: string | undefined;
}

interface SyncAnswer {
  readonly status: string;
  readonly claims: Record<string, ClaimValue>;
  readonly app_metadata: CrmMetadata;
}

/** What an answer of the API said about itself: its request id, and a refusal's error code. */
interface Answered {
  /** The API's `x-request-id`: the key to the service's log line of this request. */
  readonly requestId?: string | undefined;
  /** The contract's error code of a non-200 (docs/sync-api.md), when its body said one. */
  readonly errorCode?: string | undefined;
}

type SyncResult =
  | ({ ok: true; answer: SyncAnswer; ms: number } & Answered)
  | ({ ok: false; reason: string; ms: number } & Answered);

const DEFAULT_TIMEOUT_MS = 3_000;
// Auth0 stops a trigger after 20 s; leave room for the other Actions in the flow.
const MAX_TIMEOUT_MS = 15_000;

function readSettings(secrets: PostLoginEvent['secrets']): Settings {
  const timeout = Number(secrets.SYNC_TIMEOUT_MS);
  const writes = readMetadataWrites(secrets.METADATA_WRITES);
  return {
    url: secrets.SYNC_API_URL,
    secret: secrets.SYNC_SIGNING_SECRET,
    timeoutMs:
      Number.isFinite(timeout) && timeout > 0
        ? Math.min(timeout, MAX_TIMEOUT_MS)
        : DEFAULT_TIMEOUT_MS,
    failClosed: secrets.FAIL_MODE?.trim().toLowerCase() === 'closed',
    accessTokenClaims: secrets.ACCESS_TOKEN_CLAIMS?.trim().toLowerCase() === 'true',
    metadataWrites: writes.policy,
    ignored: writes.ignored ? 'METADATA_WRITES' : undefined,
  };
}

const TIMED_OUT = Symbol('timed out');

async function callSync(settings: Settings, body: Record<string, string>): Promise<SyncResult> {
  const started = Date.now();
  const elapsed = () => Date.now() - started;
  if (!settings.url || !settings.secret) return { ok: false, reason: 'not_configured', ms: 0 };
  const text = JSON.stringify(body);
  const signal = AbortSignal.timeout(settings.timeoutMs);
  try {
    const response = await fetch(settings.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-sync-signature': sign(settings.secret, Math.floor(Date.now() / 1000), text),
      },
      body: text,
      signal,
    });
    const requestId = readRequestId(response.headers.get('x-request-id'));
    if (response.status !== 200) {
      const errorCode = await readErrorCode(response);
      return { ok: false, reason: `http_${response.status}`, ms: elapsed(), requestId, errorCode };
    }
    // A 200 that is not JSON is the API's fault, not the network's: it keeps its request id.
    const parsed: unknown = await response.json().catch(() => (signal.aborted ? TIMED_OUT : null));
    if (parsed === TIMED_OUT) return { ok: false, reason: 'timeout', ms: elapsed(), requestId };
    const answer = readSyncAnswer(parsed);
    return answer
      ? { ok: true, answer, ms: elapsed(), requestId }
      : { ok: false, reason: 'invalid_response', ms: elapsed(), requestId };
  } catch {
    return { ok: false, reason: signal.aborted ? 'timeout' : 'network', ms: elapsed() };
  }
}

/**
 * An error body is read only this far: the contract's error is some 200 bytes, and a login
 * must not wait on, or hold in memory, whatever else a proxy in between might send.
 */
const MAX_ERROR_BODY_BYTES = 4 * 1024;
const ERROR_CODE = /^[a-z][a-z_]{0,63}$/;
// API Gateway's request ids are base64-like; anything else is not logged.
const REQUEST_ID = /^[A-Za-z0-9._:=+/-]{1,128}$/;

function readRequestId(value: string | null): string | undefined {
  return value !== null && REQUEST_ID.test(value) ? value : undefined;
}

/**
 * The `error.code` of a non-200's JSON body, read at most MAX_ERROR_BODY_BYTES far and within
 * the call's timeout (the fetch's signal ends the read too). A larger, unreadable or non-JSON
 * body gives no code; only a code of the contract's form is kept (it goes into the log).
 */
async function readErrorCode(response: Response): Promise<string | undefined> {
  const body = response.body;
  if (!body) return undefined;
  const declared = Number(response.headers.get('content-length'));
  if (declared > MAX_ERROR_BODY_BYTES) {
    await body.cancel().catch(() => {});
    return undefined;
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_ERROR_BODY_BYTES) return undefined;
      chunks.push(value);
    }
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const code = isObject(parsed) && isObject(parsed.error) ? parsed.error.code : undefined;
    return typeof code === 'string' && ERROR_CODE.test(code) ? code : undefined;
  } catch {
    return undefined;
  } finally {
    // Whatever is left unread is dropped, not drained.
    reader.cancel().catch(() => {});
  }
}

/** The log fields of what an answer said about itself. */
function answered(result: Answered): Record<string, string> {
  return {
    ...(result.requestId === undefined ? {} : { request_id: result.requestId }),
    ...(result.errorCode === undefined ? {} : { error_code: result.errorCode }),
  };
}

function failed(
  api: PostLoginApi,
  settings: Settings,
  known: CrmMetadata | undefined,
  reason: string,
  ms: number | undefined,
  fromAnswer: Record<string, string>,
): void {
  log('failed', {
    reason,
    fail_mode: settings.failClosed ? 'closed' : 'open',
    ms,
    ...fromAnswer,
  });
  if (settings.failClosed) {
    api.access.deny('Your account could not be verified right now. Please try again shortly.');
    return;
  }
  if (known) setClaims(api, claimsFrom(known), settings.accessTokenClaims);
}

function setClaims(api: PostLoginApi, claims: Record<string, ClaimValue>, accessToken: boolean) {
  for (const [name, value] of Object.entries(claims)) {
    api.idToken.setCustomClaim(name, value);
    if (accessToken) api.accessToken.setCustomClaim(name, value);
  }
}

function readSyncAnswer(value: unknown): SyncAnswer | undefined {
  if (!isObject(value) || typeof value.status !== 'string' || !isObject(value.claims)) return;
  const metadata = readCrmMetadata(value.app_metadata);
  if (!metadata) return;
  return {
    status: value.status,
    claims: value.claims as Record<string, ClaimValue>,
    app_metadata: value.app_metadata as unknown as CrmMetadata,
  };
}

/** One JSON line per login, for Auth0's real-time logs: outcomes and timings, no personal data. */
function log(outcome: string, details: Record<string, unknown>): void {
  console.log(JSON.stringify({ source: 'auth0-crm-sync', outcome, ...details }));
}
