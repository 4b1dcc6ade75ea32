import { ManagementError, ManagementTimeoutError } from 'auth0';
import { managementClient } from '#shared/adapters/auth0-client.ts';
import { missingScope } from '#shared/adapters/auth0-errors.ts';
import type { RequestPolicy } from '#shared/domain/sync-request.ts';
import {
  type Auth0Profile,
  type MatchValues,
  matchValues,
  type ProfileFacts,
  profileFacts,
} from './profile-facts.ts';
import type { Auth0Settings } from './settings.ts';
import { CouldNotAsk } from './sync-api.ts';

export interface ProfileRead {
  readonly facts: ProfileFacts;
  /** Kept in memory for --resync; never printed. */
  readonly values: MatchValues;
}

/**
 * Reads users' profiles through the Management API (GET /api/v2/users/{id}, scope read:users),
 * only the fields the explanation needs; `no_such_user` on Auth0's 404. One client, so one token
 * for the reads of a run.
 */
export function profileReader(
  auth0: Auth0Settings,
  policy: RequestPolicy,
  options: { readonly timeoutMs: number; readonly fetch?: typeof fetch },
): (userId: string) => Promise<ProfileRead | 'no_such_user'> {
  const base = options.fetch ?? ((input, init) => fetch(input, init));
  let redirected: number | undefined;
  // Bounds the token request too, which per-request options do not reach. And follows no
  // redirect: fetch re-sends the body on a 307/308 (WHATWG Fetch, "HTTP-redirect fetch"), and
  // the token request's body holds the client secret (node-auth0 token-provider.ts fetchToken).
  const bounded: typeof fetch = async (input, init) => {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
    const response = await base(input, { ...init, signal, redirect: 'manual' });
    if (response.status >= 300 && response.status < 400) {
      redirected = response.status;
      await response.body?.cancel();
      throw new RedirectRefused(response.status);
    }
    return response;
  };
  const client = managementClient({
    domain: auth0.domain,
    credentials: { clientId: auth0.clientId, clientSecret: auth0.clientSecret },
    fetch: bounded,
    maxRetries: 1,
  });
  return async (userId) => {
    redirected = undefined;
    let user: Auth0Profile;
    try {
      user = (await client.users.get(userId, {
        fields: 'user_id,phone_number,email,app_metadata',
        include_fields: true,
      })) as Auth0Profile;
    } catch (error) {
      if (error instanceof ManagementError && error.statusCode === 404) return 'no_such_user';
      // The SDK wraps what fetch throws on its API path; the reader knows what it refused.
      if (redirected !== undefined) {
        throw new CouldNotAsk(
          `the Auth0 tenant ${auth0.domain} answered a redirect (HTTP ${redirected}), which is not followed (it would re-send the M2M credentials): set AUTH0_DOMAIN to the tenant's own domain, such as acme.eu.auth0.com`,
        );
      }
      throw profileFailure(error, auth0.domain);
    }
    return { facts: profileFacts(user, policy), values: matchValues(user) };
  };
}

class RedirectRefused extends Error {
  override readonly name = 'RedirectRefused';
  constructor(status: number) {
    super(`redirect (HTTP ${status}) not followed`);
  }
}

function profileFailure(error: unknown, domain: string): CouldNotAsk {
  const scope = missingScope(error, 'read users (GET /api/v2/users/{id})');
  if (scope) return new CouldNotAsk(scope.message);
  if (error instanceof ManagementTimeoutError) {
    return new CouldNotAsk(`no answer from the Auth0 tenant ${domain} in time (AUTH0_DOMAIN)`);
  }
  if (error instanceof ManagementError && error.statusCode === 401) {
    return new CouldNotAsk(
      `the Auth0 tenant ${domain} refused the M2M application: check AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET`,
    );
  }
  const status = error instanceof ManagementError ? error.statusCode : undefined;
  // The SDK's message can quote what Auth0 sent; only the status and the error's name go out.
  return new CouldNotAsk(
    `could not read the profile from the Auth0 tenant ${domain} (AUTH0_DOMAIN)${status ? `: HTTP ${status}` : `: ${(error as Error).name}`}`,
  );
}
