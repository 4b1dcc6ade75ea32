/**
 * The parts of Auth0's post-login trigger this Action uses, written from Auth0's documentation
 * ("Actions Triggers: post-login - Event Object / API Object"); the official `@auth0/actions`
 * types are not published on the npm registry this project builds from.
 */
export interface PostLoginEvent {
  readonly user: {
    readonly user_id: string;
    readonly email?: string | undefined;
    readonly phone_number?: string | undefined;
    readonly app_metadata?: Readonly<Record<string, unknown>> | undefined;
  };
  /** Absent for some flows; `protocol` is `oauth2-refresh-token` on refresh-token exchanges. */
  readonly transaction?: { readonly protocol?: string | undefined } | undefined;
  /** The Action's secrets, by name. */
  readonly secrets: Readonly<Record<string, string | undefined>>;
}

export type ClaimValue = string | number | boolean;

export interface PostLoginApi {
  readonly idToken: { setCustomClaim(name: string, value: unknown): void };
  readonly accessToken: { setCustomClaim(name: string, value: unknown): void };
  /** Recorded during the trigger and written once at its end; each write counts against Write Users. */
  readonly user: { setAppMetadata(key: string, value: unknown): void };
  /** Stops the login; `reason` reaches the application as `error_description`. */
  readonly access: { deny(reason: string): void };
}
