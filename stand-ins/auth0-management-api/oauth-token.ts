import { randomBytes } from 'node:crypto';
import { isObject, type Reply } from './http.ts';

/**
 * POST /oauth/token with the client-credentials grant, the one way the Management API hands out
 * a token, and the check of the bearer token on every /api/v2 request. Its error bodies are the
 * OAuth `{ error, error_description }` shape, not the Management API's.
 */

/**
 * What the M2M application is granted on the Management API by default: every scope the project
 * needs (the installer's actions scopes, the backfill's users scopes) and a few more. A test takes
 * one away with `setGrantedScopes` to see the project's error; scopes.ts says which route needs
 * which.
 */
export const DEFAULT_GRANTED_SCOPES: readonly string[] = [
  'read:actions',
  'create:actions',
  'update:actions',
  'delete:actions',
  'read:users',
  'update:users',
  'read:users_app_metadata',
  'update:users_app_metadata',
  'create:users_app_metadata',
];

export function createTokenIssuer(client: {
  clientId: string;
  clientSecret: string;
  audience: string;
  grantedScopes?: readonly string[] | undefined;
}) {
  /** Each issued token and the scopes it carries. */
  const tokens = new Map<string, ReadonlySet<string>>();
  let granted: readonly string[] = client.grantedScopes ?? DEFAULT_GRANTED_SCOPES;
  let tokenRequests = 0;

  /** The scopes of the header's token; undefined when it is no token issued here (or revoked). */
  function scopesOf(authorization: string | undefined): ReadonlySet<string> | undefined {
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    return bearer === undefined ? undefined : tokens.get(bearer);
  }

  return {
    issue(body: unknown): Reply {
      tokenRequests += 1;
      const form = isObject(body) ? body : {};
      if (form.grant_type !== 'client_credentials') {
        return {
          status: 403,
          body: {
            error: 'unauthorized_client',
            error_description: 'Grant type not allowed for the client.',
          },
        };
      }
      if (form.client_id !== client.clientId || form.client_secret !== client.clientSecret) {
        return { status: 401, body: { error: 'access_denied', error_description: 'Unauthorized' } };
      }
      if (form.audience !== client.audience) {
        return {
          status: 403,
          body: {
            error: 'access_denied',
            error_description: `Service not enabled within domain: ${String(form.audience)}`,
          },
        };
      }
      const token = randomBytes(24).toString('base64url');
      // A token carries the grant as it was when issued, as a JWT's `scope` claim does: a grant
      // changed later applies to the next token (the SDK caches its token until it expires).
      tokens.set(token, new Set(granted));
      return {
        status: 200,
        body: {
          access_token: token,
          token_type: 'Bearer',
          expires_in: 86400,
          scope: granted.join(' '),
        },
      };
    },

    /** Whether an Authorization header carries a token issued here and not revoked. */
    accepts: (authorization: string | undefined): boolean => scopesOf(authorization) !== undefined,

    scopesOf,

    /** The M2M application's grant for the tokens issued from now on; undefined restores the default. */
    setGrantedScopes(scopes: readonly string[] | undefined): void {
      granted = scopes ?? DEFAULT_GRANTED_SCOPES;
    },

    /** Invalidates every issued token (the next API calls answer 401). */
    revokeAll(): void {
      tokens.clear();
    },

    /** POSTs to /oauth/token. */
    get tokenRequests() {
      return tokenRequests;
    },
  };
}
