import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_DATA_DIR = '.local-data';

/**
 * A secret of the local stack: the variable's value when set, else one generated on the first
 * start and kept in the (git-ignored) data folder, so that `npm run sign` and
 * `npm run demo:crm-change` agree with the running stack.
 */
function localSecret(
  env: NodeJS.ProcessEnv,
  dataDir: string,
  variable: string,
  file: string,
): string {
  const set = env[variable];
  if (set) return set;
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const secret = `dev-${randomBytes(24).toString('base64url')}`;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** SYNC_SIGNING_SECRET, or the generated one in the data folder. */
export function localSigningSecret(env: NodeJS.ProcessEnv, dataDir: string): string {
  return localSecret(env, dataDir, 'SYNC_SIGNING_SECRET', 'dev-signing-secret');
}

/** CRM_WEBHOOK_SECRET (what the CRM signs its change events with), or the generated one. */
export function localWebhookSecret(env: NodeJS.ProcessEnv, dataDir: string): string {
  return localSecret(env, dataDir, 'CRM_WEBHOOK_SECRET', 'dev-crm-webhook-secret');
}

/** MATCH_KEY_HASH_SECRET, or the generated one: the local stamps' hashes survive a restart. */
export function localMatchKeyHashSecret(env: NodeJS.ProcessEnv, dataDir: string): string {
  return localSecret(env, dataDir, 'MATCH_KEY_HASH_SECRET', 'dev-match-key-hash-secret');
}

/** Where the running local stack says its demo CRM listens (`npm run demo:crm-change` reads it). */
export const DEMO_CRM_URL_FILE = 'demo-crm-url';
