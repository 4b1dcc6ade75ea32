import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { compileFunction } from 'node:vm';
import type { PostLoginApi, PostLoginEvent } from '#functions/auth0-post-login/auth0-types.ts';

export interface TenantUser {
  user_id: string;
  phone_number?: string;
  email?: string;
  app_metadata: Record<string, unknown>;
}

export interface LoginResult {
  /** The custom claims the ID token carries: those the Action set, less those Auth0 drops. */
  idToken: Record<string, unknown>;
  /** The same for the access token, issued for `audience`. */
  accessToken: Record<string, unknown>;
  /** Claims the Action set that Auth0 left out of the tokens, silently (no error, no log). */
  droppedClaims: DroppedClaim[];
  denied: string | undefined;
  /** Profile writes Auth0 made at the end of the trigger (each counts against Write Users). */
  metadataWrites: number;
  threw: unknown;
  timedOut: boolean;
}

export interface LoginOptions {
  secrets: Record<string, string>;
  protocol?: string;
  /**
   * When the login happens (epoch ms): the Action's `Date` runs from this instant for the
   * trigger's duration, so a test can log in "tomorrow". Timers (the trigger's 20 s limit, the
   * Action's `AbortSignal.timeout`) keep real time. Unset: the real clock.
   */
  now?: number;
  /** The access token's audience; a custom API unless told otherwise. */
  audience?: string;
}

type PostLoginModule = {
  onExecutePostLogin(event: PostLoginEvent, api: PostLoginApi): Promise<void>;
};

/** How far the Action's clock is moved during the login running in this async context. */
const clockShift = new AsyncLocalStorage<number>();

/**
 * `Date` as the built Action sees it: the global one (fake timers included), moved by the
 * shift of the login it runs in. Only the Action's module gets it; the sync service running in
 * the same process keeps its own clock.
 */
function actionDate(): DateConstructor {
  const shifted = (): number | undefined => {
    const shift = clockShift.getStore();
    return shift === undefined ? undefined : globalThis.Date.now() + shift;
  };
  return new Proxy(globalThis.Date, {
    construct(_target, args) {
      const at = args.length === 0 ? shifted() : undefined;
      return Reflect.construct(globalThis.Date, at === undefined ? args : [at]);
    },
    apply() {
      const at = shifted();
      return at === undefined ? globalThis.Date() : new globalThis.Date(at).toString();
    },
    get(_target, property) {
      if (property === 'now') return () => shifted() ?? globalThis.Date.now();
      return Reflect.get(globalThis.Date, property);
    },
  });
}

/**
 * Loads the built file the way Auth0 does: a CommonJS module exporting onExecutePostLogin,
 * compiled afresh on every call. Its free `Date` is {@link actionDate}.
 */
export function loadBuiltAction(path: string): PostLoginModule {
  const wrapper = compileFunction(
    readFileSync(path, 'utf8'),
    ['exports', 'require', 'module', '__filename', '__dirname', 'Date'],
    { filename: path },
  );
  const module = { exports: {} as Record<string, unknown> };
  wrapper(module.exports, createRequire(path), module, path, dirname(path), actionDate());
  return module.exports as PostLoginModule;
}

// Auth0 stops a post-login trigger after 20 seconds.
const TRIGGER_LIMIT_MS = 20_000;

/**
 * A stand-in for Auth0 running one post-login trigger: the event is a copy of the stored user,
 * claims and denial are recorded, claims Auth0 refuses are left out of the tokens, and
 * app_metadata writes are applied to the stored user only after the trigger ends (at most one
 * profile write), as Auth0 does.
 */
export async function simulateLogin(
  action: PostLoginModule,
  user: TenantUser,
  options: LoginOptions,
): Promise<LoginResult> {
  const idClaims: Record<string, unknown> = {};
  const accessClaims: Record<string, unknown> = {};
  const pendingMetadata = new Map<string, unknown>();
  let denied: string | undefined;
  const api: PostLoginApi = {
    idToken: {
      setCustomClaim: (name, value) => {
        idClaims[name] = value;
      },
    },
    accessToken: {
      setCustomClaim: (name, value) => {
        accessClaims[name] = value;
      },
    },
    user: {
      setAppMetadata: (key, value) => {
        pendingMetadata.set(key, structuredClone(value));
      },
    },
    access: {
      deny: (reason) => {
        denied ??= reason;
      },
    },
  };
  const event: PostLoginEvent = {
    user: structuredClone(user),
    transaction: { protocol: options.protocol ?? 'oidc-basic-profile' },
    secrets: { ...options.secrets },
  };
  const shift = options.now === undefined ? undefined : options.now - globalThis.Date.now();
  const run = () => action.onExecutePostLogin(event, api);
  let threw: unknown;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    (shift === undefined ? run() : clockShift.run(shift, run)).then(
      () => false,
      (error: unknown) => {
        threw = error ?? new Error('rejected');
        return false;
      },
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), TRIGGER_LIMIT_MS);
    }),
  ]);
  clearTimeout(timer);
  // Metadata requested during the trigger is written once at its end, even after a denial.
  for (const [key, value] of pendingMetadata) {
    if (value === null) delete user.app_metadata[key];
    else user.app_metadata[key] = value;
  }
  const audience = options.audience ?? CUSTOM_API_AUDIENCE;
  const id = issuedClaims(idClaims, 'id_token', audience);
  const access = issuedClaims(accessClaims, 'access_token', audience);
  return {
    idToken: id.carried,
    accessToken: access.carried,
    droppedClaims: [...id.dropped, ...access.dropped],
    denied,
    metadataWrites: pendingMetadata.size > 0 ? 1 : 0,
    threw,
    timedOut,
  };
}

/*
 * Which custom claims set by an Action reach the issued tokens. Auth0 drops the others silently:
 * "In case of collisions, the transaction won't fail, but your custom claim won't be added to
 * your tokens" (auth0/docs-v2 main/docs/secure/tokens/json-web-tokens/create-custom-claims.mdx,
 * the source of every rule in this file).
 *
 * Not modelled: the 100 KB cap on the custom claims payload (the page does not say what happens
 * beyond it), and "only specified OIDC user profile claims can be added to access tokens" (the
 * page does not say which).
 */

export type ClaimDropReason =
  /** A claim of OIDC or of Auth0 itself ("General restrictions"): Auth0's own value stays. */
  | 'restricted'
  /** A namespace on an Auth0 domain or `urn:auth0` ("Namespaced guidelines"). */
  | 'auth0_namespace'
  /** Not an http(s) URL, on an access token for an Auth0 API audience. */
  | 'not_namespaced';

export interface DroppedClaim {
  readonly token: 'id_token' | 'access_token';
  readonly claim: string;
  readonly reason: ClaimDropReason;
}

/**
 * "The following claims are subject to Auth0's restrictions" (create-custom-claims.mdx). The 19
 * standard profile claims (`name`, `email`, `phone_number`, ...) are NOT in it: the page lists
 * them as "only subject to general restrictions".
 */
export const RESTRICTED_CLAIMS: ReadonlySet<string> = new Set(
  `
  acr act active amr at_hash ath attest aud auth_time authorization_details azp c_hash
  client_id cnf cty dest entitlements events exp groups gty htm htu iat internalService
  iss jcard jku jti jwe jwk kid may_act mky nbf nonce object_id org_id org_name orig
  origid permissions roles rph s_hash sid sip_callid sip_cseq_num sip_date sip_from_tag
  sip_via_branch sub sub_jwk toe txn typ uuid vot vtm x5t#S256
  `
    .trim()
    .split(/\s+/),
);

/** "Auth0 domains cannot be used as namespace identifiers" (create-custom-claims.mdx). */
const AUTH0_DOMAINS = ['auth0.com', 'webtask.io', 'webtask.run'];

/** A custom API's audience, the usual case: non-namespaced claims are allowed on its tokens. */
export const CUSTOM_API_AUDIENCE = 'https://api.example.com/';

function urlHost(name: string): string | undefined {
  if (!/^https?:\/\//i.test(name)) return undefined;
  try {
    return new URL(name).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

const onAuth0Domain = (host: string) =>
  AUTH0_DOMAINS.some((domain) => host === domain || host.endsWith(`.${domain}`));

/**
 * "Access tokens with an Auth0 API audience, excluding the `/userinfo` endpoint, cannot have
 * private, non-namespaced custom claims": the Management API (`https://{tenant}.auth0.com/api/v2/`)
 * and the like. A tenant's custom domain is not recognised here.
 */
export function isAuth0ApiAudience(audience: string): boolean {
  const host = urlHost(audience);
  if (host === undefined || !onAuth0Domain(host)) return false;
  return new URL(audience).pathname.replace(/\/+$/, '') !== '/userinfo';
}

/** Why Auth0 would leave this claim out of the token, or undefined when it keeps it. */
export function claimDropReason(
  claim: string,
  token: DroppedClaim['token'],
  audience: string,
): ClaimDropReason | undefined {
  if (RESTRICTED_CLAIMS.has(claim)) return 'restricted';
  const host = urlHost(claim);
  if (host !== undefined && onAuth0Domain(host)) return 'auth0_namespace';
  if (/^urn:auth0(:|$)/i.test(claim)) return 'auth0_namespace';
  // URN namespaces are offered "if you use a custom API" only; an Auth0 API wants a URL.
  if (token === 'access_token' && host === undefined && isAuth0ApiAudience(audience)) {
    return 'not_namespaced';
  }
  return undefined;
}

/** The claims a token carries out of those the Action set, and the ones Auth0 dropped. */
export function issuedClaims(
  set: Readonly<Record<string, unknown>>,
  token: DroppedClaim['token'],
  audience: string,
): { carried: Record<string, unknown>; dropped: DroppedClaim[] } {
  const carried: Record<string, unknown> = {};
  const dropped: DroppedClaim[] = [];
  for (const [claim, value] of Object.entries(set)) {
    const reason = claimDropReason(claim, token, audience);
    if (reason) dropped.push({ token, claim, reason });
    else carried[claim] = value;
  }
  return { carried, dropped };
}
