import { resolve } from 'node:path';
import { loadLocalPort } from '#shared/config.ts';
import { sign } from '#shared/domain/signature.ts';
import { DEFAULT_DATA_DIR, localSigningSecret } from './dev-secret.ts';

/**
 * `npm run -s sign -- '<json body>'` prints a curl line with a fresh signature for the local
 * stack (valid five minutes); `--send` sends it and prints the answer instead.
 */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const send = args.includes('--send');
  const body =
    args.find((a) => a !== '--send') ?? '{"user_id":"sms|demo","phone_number":"+1 555 010 0001"}';
  const env = process.env;
  const url = env.SYNC_API_URL || `http://127.0.0.1:${localPort(env)}/v1/sync`;
  const secret =
    localSigningSecret(env, resolve(env.LOCAL_DATA_DIR ?? DEFAULT_DATA_DIR)).split(',')[0] ?? '';
  const signature = sign(secret, Math.floor(Date.now() / 1000), body);

  if (!send) {
    const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
    process.stdout.write(
      `curl -sS -X POST ${quote(url)} -H 'content-type: application/json' -H ${quote(`x-sync-signature: ${signature}`)} --data-raw ${quote(body)}\n`,
    );
    return;
  }
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sync-signature': signature },
    body,
  }).catch((error: Error) => {
    // fetch says only "fetch failed"; the cause says why (ECONNREFUSED: nothing listens).
    const cause = (error.cause as { code?: string } | undefined)?.code ?? error.message;
    throw new Error(`no answer from ${url} (${cause}): is npm start running, on this PORT?`);
  });
  process.stdout.write(
    `HTTP ${response.status}\n${JSON.stringify(await response.json(), null, 2)}\n`,
  );
}

/** The port `npm start` listens on, read as it reads it (PORT, else 3000). */
function localPort(env: NodeJS.ProcessEnv): number {
  const port = loadLocalPort(env);
  if (port === 0) {
    throw new Error(
      'PORT=0 lets npm start pick a free port: set PORT to the one its banner shows (or SYNC_API_URL to the full URL)',
    );
  }
  return port;
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
