import { createRequire } from 'node:module';
import type { PostLoginApi, PostLoginEvent } from '#functions/auth0-post-login/auth0-types.ts';

export interface TenantUser {
  user_id: string;
  phone_number?: string;
  email?: string;
  app_metadata: Record<string, unknown>;
}

export interface LoginResult {
  idToken: Record<string, unknown>;
  accessToken: Record<string, unknown>;
  denied: string | undefined;
  /** Profile writes Auth0 made at the end of the trigger (each counts against Write Users). */
  metadataWrites: number;
  threw: unknown;
  timedOut: boolean;
}

type PostLoginModule = {
  onExecutePostLogin(event: PostLoginEvent, api: PostLoginApi): Promise<void>;
};

/** Loads the built file the way Auth0 does: a CommonJS module exporting onExecutePostLogin. */
export function loadBuiltAction(path: string): PostLoginModule {
  const require = createRequire(import.meta.url);
  delete require.cache[require.resolve(path)];
  return require(path) as PostLoginModule;
}

// Auth0 stops a post-login trigger after 20 seconds.
const TRIGGER_LIMIT_MS = 20_000;

/**
 * A stand-in for Auth0 running one post-login trigger: the event is a copy of the stored user,
 * claims and denial are recorded, and app_metadata writes are applied to the stored user only
 * after the trigger ends (at most one profile write), as Auth0 does.
 */
export async function simulateLogin(
  action: PostLoginModule,
  user: TenantUser,
  options: { secrets: Record<string, string>; protocol?: string },
): Promise<LoginResult> {
  const idToken: Record<string, unknown> = {};
  const accessToken: Record<string, unknown> = {};
  const pendingMetadata = new Map<string, unknown>();
  let denied: string | undefined;
  const api: PostLoginApi = {
    idToken: {
      setCustomClaim: (name, value) => {
        idToken[name] = value;
      },
    },
    accessToken: {
      setCustomClaim: (name, value) => {
        accessToken[name] = value;
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
  let threw: unknown;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    action.onExecutePostLogin(event, api).then(
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
  return {
    idToken,
    accessToken,
    denied,
    metadataWrites: pendingMetadata.size > 0 ? 1 : 0,
    threw,
    timedOut,
  };
}
