import { error, type Reply, safeDecode } from './http.ts';

/**
 * The scopes each Management API route asks of the bearer token, and Auth0's refusal when the
 * token has none of them. Each route's page in auth0/docs-v2 (`main/docs/api/management/v2/…`)
 * names its scopes in a `<Scopes scopes={[...]} />` line; any one of them will do. The refusal
 * is Auth0's
 * `403 { statusCode: 403, error: "Forbidden", message: "Insufficient scope, expected any of:
 * read:users", errorCode: "insufficient_scope" }`, the scopes joined by ", " (auth0/auth0-cli
 * `internal/cli/api_test.go` parses both forms, one scope and several).
 */

interface ScopeRule {
  readonly method: string;
  /** The path after /api/v2/, segment by segment; `*` matches any one segment. */
  readonly path: readonly string[];
  readonly scopes: readonly string[];
}

const rule = (method: string, path: string, scopes: readonly string[]): ScopeRule => ({
  method,
  path: path.split('/'),
  scopes,
});

export const SCOPE_RULES: readonly ScopeRule[] = [
  // actions/get-actions.mdx, post-action.mdx, get-action.mdx, patch-action.mdx, delete-action.mdx
  rule('GET', 'actions/actions', ['read:actions']),
  rule('POST', 'actions/actions', ['create:actions']),
  rule('GET', 'actions/actions/*', ['read:actions']),
  rule('PATCH', 'actions/actions/*', ['update:actions']),
  rule('DELETE', 'actions/actions/*', ['delete:actions']),
  // actions/post-deploy-action.mdx: deploying is "create", not "update".
  rule('POST', 'actions/actions/*/deploy', ['create:actions']),
  // actions/get-action-versions.mdx, get-action-version.mdx
  rule('GET', 'actions/actions/*/versions', ['read:actions']),
  rule('GET', 'actions/actions/*/versions/*', ['read:actions']),
  // actions/get-bindings.mdx, patch-bindings.mdx: the actions scopes, there are no trigger scopes.
  rule('GET', 'actions/triggers/*/bindings', ['read:actions']),
  rule('PATCH', 'actions/triggers/*/bindings', ['update:actions']),
  // jobs/post-users-exports.mdx, jobs/get-jobs-by-id.mdx
  rule('POST', 'jobs/users-exports', ['read:users']),
  rule('GET', 'jobs/*', ['create:users', 'read:users']),
  // users/get-users-by-id.mdx, users/patch-users-by-id.mdx (the current_user scopes are those of a
  // user's own token, never granted to a machine-to-machine application here)
  rule('GET', 'users/*', ['read:users', 'read:current_user', 'read:user_idp_tokens']),
  rule('PATCH', 'users/*', [
    'update:users',
    'update:users_app_metadata',
    'update:current_user_metadata',
  ]),
];

/** The scopes that would let this request through (any one of them); undefined when unchecked. */
export function requiredScopes(method: string, rawPath: string): readonly string[] | undefined {
  const segments = rawPath.slice('/api/v2/'.length).split('/').map(safeDecode);
  const found = SCOPE_RULES.find(
    (r) =>
      r.method === method &&
      r.path.length === segments.length &&
      r.path.every((part, i) => part === '*' || part === segments[i]),
  );
  return found?.scopes;
}

/** Auth0's 403 when the token's scopes include none the route asks for; undefined otherwise. */
export function refuseScope(
  method: string,
  rawPath: string,
  granted: ReadonlySet<string>,
): Reply | undefined {
  const scopes = requiredScopes(method, rawPath);
  if (scopes === undefined || scopes.some((scope) => granted.has(scope))) return undefined;
  return error(
    403,
    `Insufficient scope, expected any of: ${scopes.join(', ')}`,
    'insufficient_scope',
  );
}
