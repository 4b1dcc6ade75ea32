import { ManagementClient } from 'auth0';

/** The M2M application's credentials as the stack stores them in Secrets Manager. */
export function parseAuth0Credentials(raw: string): { clientId: string; clientSecret: string } {
  let parsed: { clientId?: unknown; clientSecret?: unknown };
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('the Auth0 credentials secret is not JSON {"clientId","clientSecret"}');
  }
  const { clientId, clientSecret } = parsed;
  if (typeof clientId !== 'string' || typeof clientSecret !== 'string' || clientId === 'set-me') {
    throw new Error(
      'the Auth0 credentials secret still holds its placeholder, not an M2M application: put ' +
        '{"clientId","clientSecret"} in it (the stack output SetAuth0CredentialsCommand)',
    );
  }
  return { clientId, clientSecret };
}

export function managementClient(options: {
  domain: string;
  credentials: { clientId: string; clientSecret: string };
  fetch?: typeof fetch;
  maxRetries?: number;
}): ManagementClient {
  return new ManagementClient({
    domain: options.domain,
    ...options.credentials,
    maxRetries: options.maxRetries ?? 5,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/**
 * A fetch for the SDK that reports when Auth0 refused the client's credentials or token: a 401
 * (from /oauth/token after the client secret was rotated, or from /api/v2 for a revoked token),
 * or a 403 insufficient_scope (the token predates a grant the operator has since fixed). The SDK
 * keeps its token until it expires and never asks again on a 401, so the caller has to make a
 * new client (auth0/node-auth0 src/management/wrapper/token-provider.ts).
 */
export function fetchReportingRefusals(base: typeof fetch, onRefused: () => void): typeof fetch {
  return async (input, init) => {
    const response = await base(input, init);
    if (response.status === 401) onRefused();
    else if (response.status === 403 && (await isInsufficientScope(response))) onRefused();
    return response;
  };
}

async function isInsufficientScope(response: Response): Promise<boolean> {
  try {
    const body = (await response.clone().json()) as { errorCode?: unknown };
    return body.errorCode === 'insufficient_scope';
  } catch {
    return false;
  }
}
