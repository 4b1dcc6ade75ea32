import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { PostLoginApi, PostLoginEvent } from '#functions/auth0-post-login/auth0-types.ts';
import { buildAction } from '#infra/action-bundle.ts';
import { startLocalStack } from '#local/stack.ts';
import { sign } from '#shared/domain/signature.ts';
import { loadBuiltAction } from '#stand-ins/auth0-action-runtime.ts';
import { ADA_LOVELACE, ALAN_TURING, GRACE_HOPPER } from '#stand-ins/demo-data.ts';
import { row, summarise } from './stats.ts';

const api: PostLoginApi = {
  idToken: { setCustomClaim: () => {} },
  accessToken: { setCustomClaim: () => {} },
  user: { setAppMetadata: () => {} },
  access: { deny: () => {} },
};

/** The built Action: its size, its no-I/O fast path, and what a miss adds to a login. */
export async function benchAction(iterations: number): Promise<string[]> {
  const { path } = await buildAction();
  const action = loadBuiltAction(path);
  const code = readFileSync(path);
  const stack = await startLocalStack(
    { LOG_LEVEL: 'ERROR', LOCAL_DATA_DIR: 'node_modules/.cache/bench-local' },
    { persist: false, port: 0 },
  );
  const url = `${stack.url}/v1/sync`;
  const secrets = { SYNC_API_URL: url, SYNC_SIGNING_SECRET: stack.secret };
  const silence = console.log;
  console.log = () => {};
  try {
    // Fast path: fresh app_metadata.crm, so no call. Baseline: setting the same claims directly.
    const fresh = {
      id: ADA_LOVELACE.id,
      synced_at: new Date().toISOString(),
      fresh_until: new Date(Date.now() + 86_400_000).toISOString(),
      namespace: 'https://crm.example.com/',
      fields: { crm_id: ADA_LOVELACE.id, name: ADA_LOVELACE.name },
    };
    const event: PostLoginEvent = {
      user: {
        user_id: 'sms|bench',
        phone_number: ADA_LOVELACE.phone,
        app_metadata: { crm: fresh },
      },
      transaction: { protocol: 'oidc-basic-profile' },
      secrets,
    };
    const claims = {
      'https://crm.example.com/crm_id': ADA_LOVELACE.id,
      'https://crm.example.com/name': ADA_LOVELACE.name,
    };
    const fastTimes: number[] = [];
    const directTimes: number[] = [];
    for (let i = 0; i < iterations * 10 + 2_000; i++) {
      let t = performance.now();
      await action.onExecutePostLogin(event, api);
      const fast = performance.now() - t;
      t = performance.now();
      for (const [k, v] of Object.entries(claims)) api.idToken.setCustomClaim(k, v);
      await Promise.resolve();
      const direct = performance.now() - t;
      if (i >= 2_000) {
        fastTimes.push(fast);
        directTimes.push(direct);
      }
    }

    // Miss: a user never seen, so one signed round trip to the local stack (demo CRM behind it).
    // Baseline: the same signed POST sent by hand, for a different new user, interleaved.
    const missTimes: number[] = [];
    const rawTimes: number[] = [];
    const phones = [ADA_LOVELACE, GRACE_HOPPER, ALAN_TURING].map((c) => c.phone);
    for (let i = 0; i < iterations + 50; i++) {
      const missEvent: PostLoginEvent = {
        user: { user_id: `sms|bench-miss-${i}`, phone_number: phones[i % 3], app_metadata: {} },
        transaction: { protocol: 'oidc-basic-profile' },
        secrets,
      };
      let t = performance.now();
      await action.onExecutePostLogin(missEvent, api);
      const miss = performance.now() - t;
      const body = JSON.stringify({ user_id: `sms|bench-raw-${i}`, phone_number: phones[i % 3] });
      t = performance.now();
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-sync-signature': sign(stack.secret, Math.floor(Date.now() / 1000), body),
        },
        body,
      });
      await response.json();
      const raw = performance.now() - t;
      if (i >= 50) {
        missTimes.push(miss);
        rawTimes.push(raw);
      }
    }
    const f = summarise(fastTimes);
    const d = summarise(directTimes);
    const m = summarise(missTimes);
    const r = summarise(rawTimes);
    return [
      '## Auth0 post-login Action (the built dist/auth0/post-login.js)',
      `size: ${code.length} bytes (${gzipSync(code).length} gzip); Auth0's limit is 100 kB`,
      row('fast path (fresh metadata, no I/O)', f),
      row('baseline: setting the two claims directly', d),
      `fast path p50: ${(f.p50 * 1000).toFixed(1)} µs, ${(f.p50 / d.p50).toFixed(1)}x the bare claim setting`,
      row('miss: Action with one sync round trip', m),
      row('baseline: the same signed POST by hand', r),
      `ratio Action miss / raw round trip: p50 ${(m.p50 / r.p50).toFixed(2)}  p99 ${(m.p99 / r.p99).toFixed(2)}`,
    ];
  } finally {
    console.log = silence;
    await stack.close();
  }
}
