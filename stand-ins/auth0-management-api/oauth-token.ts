import { randomBytes } from 'node:crypto';
import { isObject, type Reply } from './http.ts';

/**
 * POST /oauth/token with the client-credentials grant, the one way the Management API hands out
 * a token, and the check of the bearer token on every /api/v2 request. Its error bodies are the
 * OAuth `{ error, error_description }` shape, not the Management API's.
 */

/** The scope every token is granted; no endpoint here checks it, the SDK only reads it. */
const SCOPE = [
  'read:actions',
  'create:actions',
  'update:actions',
  'delete:actions',
  'read:users',
  'update:users',
  'read:users_app_metadata',
  'update:users_app_metadata',
  'create:users_app_metadata',
].join(' ');

export function createTokenIssuer(client: {
  clientId: string;
  clientSecret: string;
  audience: string;
}) {
  const tokens = new Set<string>();
  let tokenRequests = 0;

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
      tokens.add(token);
      return {
        status: 200,
        body: { access_token: token, token_type: 'Bearer', expires_in: 86400, scope: SCOPE },
      };
    },

    /** Whether an Authorization header carries a token issued here and not revoked. */
    accepts(authorization: string | undefined): boolean {
      const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
      return bearer !== undefined && tokens.has(bearer);
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
