import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_DATA_DIR = '.local-data';

/**
 * The local stack's signing secret: SYNC_SIGNING_SECRET when set, else one generated on the
 * first start and kept in the (git-ignored) data folder, so `npm run sign` agrees with it.
 */
export function localSigningSecret(env: NodeJS.ProcessEnv, dataDir: string): string {
  if (env.SYNC_SIGNING_SECRET) return env.SYNC_SIGNING_SECRET;
  const file = join(dataDir, 'dev-signing-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = `dev-${randomBytes(24).toString('base64url')}`;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}
