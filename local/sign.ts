import { resolve } from 'node:path';
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
  const secret =
    localSigningSecret(env, resolve(env.LOCAL_DATA_DIR ?? DEFAULT_DATA_DIR)).split(',')[0] ?? '';
  const url = env.SYNC_API_URL ?? `http://127.0.0.1:${env.PORT ?? 3000}/v1/sync`;
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
  });
  process.stdout.write(
    `HTTP ${response.status}\n${JSON.stringify(await response.json(), null, 2)}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
