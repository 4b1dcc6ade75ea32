import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { sign } from '#shared/domain/signature.ts';
import { startCrmServer } from '#stand-ins/crm-server.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'crm-sync-local-'));
const captured = join(inject('logCaptureDir'), `local-stack-${process.pid}.log`);
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs `npm start` as a user would (same script, own process), on a free port. */
async function startLocalStack(env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: { ...process.env, PORT: String(port), LOCAL_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      // The stack's own logs count for the whole-run PII check too.
      appendFileSync(captured, chunk);
      if (output.includes('Ctrl-C stops it.')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`local stack exited (${code}): ${output}`)));
  });
  await ready;
  return { child, url: `http://127.0.0.1:${port}`, output: () => output };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  return exited;
}

async function post(url: string, body: unknown, secret: string) {
  const text = JSON.stringify(body);
  const response = await fetch(`${url}/v1/sync`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-sync-signature': sign(secret, Math.floor(Date.now() / 1000), text),
    },
    body: text,
  });
  // biome-ignore lint/suspicious/noExplicitAny: read by the contract's shape
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('npm start', () => {
  it('serves the contract over HTTP with the demo CRM, keeps stamps across a restart, stops on Ctrl-C', async () => {
    const env = { SYNC_SIGNING_SECRET: TEST_SECRETS.signing };
    const first = await startLocalStack(env);
    expect(first.output()).toContain(`listening on ${first.url}`);
    expect(first.output()).toContain('npm run -s sign --');

    const health = await fetch(`${first.url}/v1/health`);
    expect(await health.json()).toEqual({ status: 'ok' });

    const login = { user_id: 'sms|local-e2e', phone_number: '+1 555 010 0001' };
    const synced = await post(first.url, login, TEST_SECRETS.signing);
    expect(synced.status).toBe(200);
    expect(synced.body).toMatchObject({ status: 'synced', crm_id: 'C-1001' });
    expect(synced.body.claims['https://crm.example.com/name']).toBe('Ada Lovelace');

    const unsigned = await post(first.url, login, 'wrong');
    expect(unsigned.status).toBe(401);
    expect(await stop(first.child)).toBe(0);

    const second = await startLocalStack(env);
    const cached = await post(second.url, login, TEST_SECRETS.signing);
    expect(cached.body).toMatchObject({ status: 'cached', synced_at: synced.body.synced_at });
    expect(await stop(second.child)).toBe(0);
  });

  it('honours CLAIM_NAMESPACE and SYNC_TIME_ZONE', async () => {
    const stack = await startLocalStack({
      SYNC_SIGNING_SECRET: TEST_SECRETS.signing,
      CLAIM_NAMESPACE: 'https://id.example.org/',
      SYNC_TIME_ZONE: 'Asia/Kolkata',
    });
    try {
      const res = await post(
        stack.url,
        { user_id: 'sms|local-tz', phone_number: '+15550100002' },
        TEST_SECRETS.signing,
      );
      expect(res.body.claims['https://id.example.org/name']).toBe('Grace Hopper');
      // Midnight in Kolkata is 18:30 UTC.
      expect(res.body.fresh_until).toMatch(/T18:30:00\.000Z$/);
    } finally {
      await stop(stack.child);
    }
  });

  it('uses the CRM at CRM_URL with CRM_API_KEY, and accepts the previous secret of a comma list', async () => {
    const crm = await startCrmServer({ '+15550100003': { id: 'X-77', name: 'Alan Turing' } });
    const stack = await startLocalStack({
      SYNC_SIGNING_SECRET: `${TEST_SECRETS.signing},${TEST_SECRETS.previousSigning}`,
      CRM_URL: crm.url,
      CRM_API_KEY: TEST_SECRETS.crmApiKey,
    });
    try {
      expect(stack.output()).not.toContain('demo CRM at');
      const res = await post(
        stack.url,
        { user_id: 'sms|local-crm', phone_number: '+15550100003' },
        TEST_SECRETS.previousSigning,
      );
      expect(res.body).toMatchObject({ status: 'synced', crm_id: 'X-77' });
      expect(crm.requests.at(-1)?.headers['x-api-key']).toBe(TEST_SECRETS.crmApiKey);
    } finally {
      await stop(stack.child);
      await crm.close();
    }
  });
});
