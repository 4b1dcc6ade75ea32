import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, loadLocalPort, loadStampReadConfig } from '#shared/config.ts';
import { parseSigningSecrets } from '#shared/domain/signature.ts';
import type { RequestPolicy } from '#shared/domain/sync-request.ts';

/** Where the tool asks, with what, and how the deployment matches users (from the environment). */
export interface ExplainSettings {
  /** The URL of POST /v1/sync, as the Action is given it. */
  readonly syncUrl: string;
  /** The current signing secret. */
  readonly secret: string;
  /** No SYNC_API_URL: the local stack of `npm start` is asked. */
  readonly local: boolean;
  readonly auth0: Auth0Settings | undefined;
  /** CRM_MATCH_KEYS and DEFAULT_PHONE_COUNTRY, read as the sync service reads them. */
  readonly policy: RequestPolicy;
}

export interface Auth0Settings {
  readonly domain: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

/**
 * What `npm start` keeps in its data folder (local/dev-secret.ts, DEFAULT_DATA_DIR). tools/ may
 * not import local/ (test/architecture.test.ts), so the tool reads the same file itself, and
 * only reads it: a secret it generated would match nothing.
 */
const LOCAL_DATA_DIR = '.local-data';
const DEV_SECRET_FILE = 'dev-signing-secret';

type Env = Readonly<Record<string, string | undefined>>;

/** Hosts that are this machine; WHATWG URL writes an IPv6 host in brackets. */
const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', '[::1]', 'localhost'];

export function readExplainSettings(env: Env): ExplainSettings {
  const syncUrl = readSyncUrl(env);
  return {
    syncUrl,
    secret: readSecret(env, syncUrl),
    local: !env.SYNC_API_URL?.trim(),
    auth0: readAuth0(env),
    policy: readPolicy(env),
  };
}

/** SYNC_API_URL, else the local stack on PORT (3000 by default), as `npm run sign` does. */
function readSyncUrl(env: Env): string {
  const given = env.SYNC_API_URL?.trim();
  if (!given) {
    const port = loadLocalPort(env);
    if (port === 0) {
      throw new ConfigError(
        'PORT=0 lets npm start pick a free port: set PORT to the one its banner shows (or SYNC_API_URL to the full URL)',
      );
    }
    return `http://127.0.0.1:${port}/v1/sync`;
  }
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new ConfigError(
      'Invalid configuration: SYNC_API_URL: must be the full URL of POST /v1/sync',
    );
  }
  if (!/^https?:$/.test(url.protocol) || !url.pathname.endsWith('/v1/sync')) {
    throw new ConfigError(
      'Invalid configuration: SYNC_API_URL: must be the http(s) URL of POST /v1/sync, the one the Action is given',
    );
  }
  // A resync sends the user's phone number or email and a signature: in clear text only to
  // this machine (npm start, a tunnel), never across a network.
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.includes(url.hostname)) {
    throw new ConfigError(
      'Invalid configuration: SYNC_API_URL: must be an https URL (plain http only to 127.0.0.1, ::1 or localhost): the tool sends a signature, and with --resync a phone number or email',
    );
  }
  return given;
}

/** GET /v1/users/<id> on the same API: the sync URL with its `/v1/sync` replaced. */
export function userStateUrl(syncUrl: string, userId: string): string {
  const url = new URL(syncUrl);
  url.pathname = `${url.pathname.slice(0, -'/v1/sync'.length)}/v1/users/${encodeURIComponent(userId)}`;
  url.search = '';
  return url.toString();
}

/**
 * SYNC_SIGNING_SECRET (its first value: `current,previous` or the stack's JSON), else, for the
 * local stack only, the one `npm start` wrote. A deployed API never gets a local secret.
 */
function readSecret(env: Env, syncUrl: string): string {
  const raw = env.SYNC_SIGNING_SECRET;
  if (raw?.trim()) {
    try {
      return parseSigningSecrets(raw)[0] as string;
    } catch (error) {
      throw new ConfigError(
        `Invalid configuration: SYNC_SIGNING_SECRET: ${(error as Error).message}`,
      );
    }
  }
  if (!LOOPBACK_HOSTS.includes(new URL(syncUrl).hostname)) {
    throw new ConfigError(
      "Invalid configuration: SYNC_SIGNING_SECRET: must be set to the sync API's current signing secret (the one the Action has)",
    );
  }
  const file = join(resolve(env.LOCAL_DATA_DIR ?? LOCAL_DATA_DIR), DEV_SECRET_FILE);
  if (!existsSync(file)) {
    throw new ConfigError(
      `no SYNC_SIGNING_SECRET, and no local signing secret at ${file}: start npm start once (it writes one), or set SYNC_SIGNING_SECRET (and LOCAL_DATA_DIR if npm start uses another folder)`,
    );
  }
  return readFileSync(file, 'utf8').trim();
}

const AUTH0_NAMES = ['AUTH0_DOMAIN', 'AUTH0_CLIENT_ID', 'AUTH0_CLIENT_SECRET'] as const;

/** All three M2M settings (those of `npm run action:deploy`), or none: the profile is then not read. */
function readAuth0(env: Env): Auth0Settings | undefined {
  const given = AUTH0_NAMES.filter((name) => env[name]?.trim());
  if (given.length === 0) return undefined;
  const missing = AUTH0_NAMES.filter((name) => !given.includes(name));
  if (missing.length > 0) {
    throw new ConfigError(
      `Invalid configuration: ${missing.join(', ')}: must be set too, to read the profile (an M2M application with read:users), or unset ${given.join(', ')}`,
    );
  }
  const domain = (env.AUTH0_DOMAIN as string).trim();
  if (!/^[a-z0-9.-]+$/i.test(domain)) {
    throw new ConfigError(
      'Invalid configuration: AUTH0_DOMAIN: must be a tenant domain such as acme.eu.auth0.com',
    );
  }
  return {
    domain,
    clientId: (env.AUTH0_CLIENT_ID as string).trim(),
    clientSecret: env.AUTH0_CLIENT_SECRET as string,
  };
}

/**
 * The service's CRM_MATCH_KEYS and DEFAULT_PHONE_COUNTRY, through the service's own schema
 * (phone by default): whether a profile has a match key depends on them. The table name plays
 * no part here, hence the placeholder.
 */
function readPolicy(env: Env): RequestPolicy {
  const { matchKeys, defaultPhoneCountry } = loadStampReadConfig({
    CRM_MATCH_KEYS: env.CRM_MATCH_KEYS,
    DEFAULT_PHONE_COUNTRY: env.DEFAULT_PHONE_COUNTRY,
    TABLE_NAME: 'not-used-by-explain',
  });
  return { matchKeys, defaultPhoneCountry };
}
