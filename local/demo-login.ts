import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { buildAction } from '#infra/action-bundle.ts';
import { loadLocalPort } from '#shared/config.ts';
import {
  loadBuiltAction,
  simulateLogin,
  type TenantUser,
} from '#stand-ins/auth0-action-runtime.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { DEFAULT_DATA_DIR, localSigningSecret } from './dev-secret.ts';
import { startLocalStack } from './stack.ts';

/**
 * `npm run demo:login -- +15550100001`: the built Action in a simulated Auth0 login against the
 * local stack (SYNC_API_URL when set; else a running `npm start` on PORT; else one started in
 * memory), twice: the first login asks the sync API, the second makes no call at all. The user
 * is the same for a phone number every run (`sms|demo-<hash of the digits>`: like Auth0's own
 * ids it does not spell the number, which would put it in the logs), so a second run is answered
 * from today's stamp, and one after `npm run demo:crm-change` shows the change.
 */
async function main(): Promise<void> {
  const phone = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? ADA_LOVELACE.phone;
  const env = process.env;
  const external = env.SYNC_API_URL || (await runningLocalStack(env));
  const stack = external
    ? undefined
    : await startLocalStack({ ...env, LOG_LEVEL: 'ERROR' }, { persist: false, port: 0 });
  const url = external ?? `${stack?.url}/v1/sync`;
  const secret =
    env.SYNC_SIGNING_SECRET?.split(',')[0] ||
    stack?.secret ||
    localSigningSecret(env, resolve(env.LOCAL_DATA_DIR ?? DEFAULT_DATA_DIR)).split(',')[0] ||
    '';

  const { path } = await buildAction();
  const action = loadBuiltAction(path);
  let calls = 0;
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    if (String(input) === url) calls++;
    return realFetch(input, init);
  };

  const user: TenantUser = {
    user_id: `sms|demo-${createHash('sha256').update(phone.replace(/\D/g, '')).digest('hex').slice(0, 12)}`,
    phone_number: phone,
    app_metadata: {},
  };
  const secrets = { SYNC_API_URL: url, SYNC_SIGNING_SECRET: secret };
  const out = (s: string) => process.stdout.write(`${s}\n`);
  try {
    out(`Sync API: ${url}${stack ? ' (local stack started in memory)' : ''}`);
    // The Action's metadata lives in this process: each run starts from a profile without it.
    out(`User ${user.user_id}, a profile without app_metadata.crm`);
    for (const attempt of ['First login', 'Second login']) {
      calls = 0;
      const started = performance.now();
      const result = await simulateLogin(action, user, { secrets });
      const ms = (performance.now() - started).toFixed(1);
      out(
        `\n${attempt} of ${user.user_id}: ${calls} call(s) to the sync API, ${result.metadataWrites} metadata write(s), ${ms} ms`,
      );
      if (result.denied) out(`  login denied: ${result.denied}`);
      out(`  ID token claims: ${JSON.stringify(result.idToken, null, 2).replaceAll('\n', '\n  ')}`);
      out(
        `  app_metadata.crm: ${JSON.stringify(user.app_metadata.crm ?? null, null, 2).replaceAll('\n', '\n  ')}`,
      );
    }
  } finally {
    globalThis.fetch = realFetch;
    await stack?.close();
  }
}

/**
 * The sync URL of an `npm start` answering on PORT (default 3000), or undefined: its health
 * route answers within half a second, or the demo starts a stack of its own.
 */
async function runningLocalStack(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  let port: number;
  try {
    port = loadLocalPort(env);
  } catch {
    return undefined;
  }
  if (port === 0) return undefined;
  const base = `http://127.0.0.1:${port}`;
  const health = await fetch(`${base}/v1/health`, { signal: AbortSignal.timeout(500) }).catch(
    () => undefined,
  );
  const body = health?.ok ? await health.json().catch(() => undefined) : undefined;
  return (body as { status?: unknown } | undefined)?.status === 'ok'
    ? `${base}/v1/sync`
    : undefined;
}

main().catch((error: unknown) => {
  process.stderr.write(`demo:login failed: ${(error as Error).message}\n`);
  process.exit(1);
});
