import { buildAction } from '#infra/action-bundle.ts';
import {
  loadBuiltAction,
  simulateLogin,
  type TenantUser,
} from '#stand-ins/auth0-action-runtime.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { startLocalStack } from './stack.ts';

/**
 * `npm run demo:login -- +15550100001`: the built Action in a simulated Auth0 login against the
 * local stack (a running `npm start` when SYNC_API_URL is set, else one started in memory),
 * twice: the first login asks the sync API, the second makes no call at all.
 */
async function main(): Promise<void> {
  const phone = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? ADA_LOVELACE.phone;
  const env = process.env;
  const external = env.SYNC_API_URL || undefined;
  const stack = external
    ? undefined
    : await startLocalStack({ ...env, LOG_LEVEL: 'ERROR' }, { persist: false, port: 0 });
  const url = external ?? `${stack?.url}/v1/sync`;
  const secret = env.SYNC_SIGNING_SECRET?.split(',')[0] || stack?.secret || '';

  const { path } = await buildAction();
  const action = loadBuiltAction(path);
  let calls = 0;
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    if (String(input) === url) calls++;
    return realFetch(input, init);
  };

  const user: TenantUser = {
    user_id: `sms|demo-${Date.now()}`,
    phone_number: phone,
    app_metadata: {},
  };
  const secrets = { SYNC_API_URL: url, SYNC_SIGNING_SECRET: secret };
  const out = (s: string) => process.stdout.write(`${s}\n`);
  try {
    out(`Sync API: ${url}${stack ? ' (local stack started in memory)' : ''}`);
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

main().catch((error: unknown) => {
  process.stderr.write(`demo:login failed: ${(error as Error).message}\n`);
  process.exit(1);
});
