import { ManagementError } from 'auth0';

/**
 * The Management API refused a call because the M2M application's grant lacks a scope. Auth0
 * answers `403 { errorCode: "insufficient_scope", message: "Insufficient scope, expected any
 * of: read:users" }`; the operator's fix is in the dashboard, not in a retry.
 */
export class MissingScopeError extends Error {
  constructor(
    /** The scopes Auth0 said would do (any one of them), e.g. `['read:users']`. */
    readonly scopes: readonly string[],
    /** What was being done, e.g. `start a user export`. */
    readonly operation: string,
  ) {
    super(
      `the Auth0 M2M application may not ${operation}: grant it the scope ${scopes.join(' or ')} ` +
        '(Dashboard > Applications > APIs > Auth0 Management API > Machine to Machine Applications)',
    );
    this.name = 'MissingScopeError';
  }
}

/** The MissingScopeError for a 403 insufficient_scope answer; undefined for any other error. */
export function missingScope(error: unknown, operation: string): MissingScopeError | undefined {
  if (!(error instanceof ManagementError) || error.statusCode !== 403) return undefined;
  const body = error.body as { errorCode?: unknown; message?: unknown } | undefined;
  if (body?.errorCode !== 'insufficient_scope') return undefined;
  const listed =
    typeof body.message === 'string' ? /expected any of:\s*(.+)$/i.exec(body.message) : null;
  // Several scopes come joined by ", " (auth0/auth0-cli internal/cli/api_test.go). The
  // `*:current_user*` ones are for a user's own token, of no use to an M2M application.
  const scopes = (listed?.[1] ?? '')
    .split(/[\s,]+/)
    .filter((scope) => /^[a-z_]+:[a-z_]+$/.test(scope) && !scope.includes('current_user'));
  return new MissingScopeError(scopes.length > 0 ? scopes : ['(not named by Auth0)'], operation);
}
