import { CrmFailure } from '../domain/ports.ts';
import { beforeDeadline, exchangeWithCrm, statusFailure } from './crm-exchange.ts';

/** A connected app's consumer key and secret (one Secrets Manager secret holds both). */
export interface SalesforceCredentials {
  readonly client_id: string;
  readonly client_secret: string;
}

/** Reads `{"client_id","client_secret"}`; the error never repeats the value. */
export function parseSalesforceCredentials(raw: string): SalesforceCredentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const { client_id, client_secret } = (parsed ?? {}) as Record<string, unknown>;
  if (
    typeof client_id !== 'string' ||
    client_id === '' ||
    typeof client_secret !== 'string' ||
    client_secret === ''
  ) {
    throw new Error(
      'the Salesforce credentials secret must be JSON {"client_id": "...", "client_secret": "..."}',
    );
  }
  return { client_id, client_secret };
}

export interface SalesforceTokenOptions {
  /** The org's My Domain URL: `<url>/services/oauth2/token`. */
  readonly url: string;
  readonly credentials: () => Promise<SalesforceCredentials>;
  /** Salesforce refused the credentials: drop the cached ones (a rotated secret). */
  readonly onRefused?: () => void;
  /** A token request's own deadline: concurrent logins share it, each within its own. */
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
}

/**
 * The access token of the OAuth 2.0 client-credentials flow ("OAuth 2.0 Client Credentials
 * Flow for Server-to-Server Integration", https://help.salesforce.com/apex/HTViewHelpDoc?id=
 * xcloud.remoteaccess_oauth_client_credentials_flow.htm): `POST /services/oauth2/token` with
 * `grant_type=client_credentials`, `client_id` and `client_secret`, answered on behalf of the
 * connected app's run-as user. The answer has no `expires_in` and no refresh token: "the
 * session timeout value in Setup governs the expiration of access tokens"
 * (https://developer.salesforce.com/docs/atlas.en-us.chatterapi.meta/chatterapi/
 * intro_oauth_tokens.htm), counted from the last call. So the token is kept until the API
 * refuses it (401 INVALID_SESSION_ID), then asked for again, once for all concurrent logins.
 * The answer's `instance_url` is not followed: the token only ever goes to the configured URL.
 */
export class SalesforceToken {
  private current: string | undefined;
  private pending: Promise<string> | undefined;
  private readonly tokenUrl: URL;

  constructor(private readonly options: SalesforceTokenOptions) {
    this.tokenUrl = new URL(`${options.url}/services/oauth2/token`);
  }

  /**
   * The token in hand, or a new one before `signal` aborts. The token endpoint is Salesforce:
   * one that does not answer in time is the CRM's `timeout` (the breaker counts it), while a
   * credentials read that does not is ours (CrmKeyReadTimeout, from the request itself).
   */
  async get(signal: AbortSignal): Promise<string> {
    if (this.current !== undefined) return this.current;
    this.pending ??= this.request().finally(() => {
      this.pending = undefined;
    });
    return beforeDeadline(this.pending, signal, () => new CrmFailure('timeout'));
  }

  /** The API refused `token`: the next `get` asks for a new one (unless it was replaced). */
  refused(token: string): void {
    if (this.current === token) this.current = undefined;
  }

  private async request(): Promise<string> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const { client_id, client_secret } = await beforeDeadline(this.options.credentials(), signal);
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id,
      client_secret,
    });
    const request = {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
      signal,
    } as const;
    const token = await exchangeWithCrm(
      this.tokenUrl,
      request,
      this.options.maxResponseBytes,
      async (reply) => {
        // 400 invalid_client / invalid_grant ("no client credentials user enabled": no run-as
        // user), 401: the app or its secret. Neither is retried with the same credentials.
        if (reply.status === 400 || reply.status === 401) {
          this.options.onRefused?.();
          throw new CrmFailure('auth', reply.status);
        }
        // A redirect is never followed (the secret would go along); a 429/503 keeps its wait.
        const failure = statusFailure(reply, [200], Date.now());
        if (failure) throw failure;
        const answer = await reply.json();
        const accessToken = answer.access_token;
        // Sent back as a header: anything but a printable token is refused, not forwarded.
        if (typeof accessToken !== 'string' || !/^[\x21-\x7e]{1,4096}$/.test(accessToken)) {
          throw new CrmFailure('invalid_response');
        }
        return accessToken;
      },
    );
    this.current = token;
    return token;
  }
}
