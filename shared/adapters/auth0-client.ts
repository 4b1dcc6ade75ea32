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
      'the Auth0 credentials secret holds no M2M application yet (see SetAuth0CredentialsCommand)',
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
