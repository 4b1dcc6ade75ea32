import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { LOCAL_TABLE_NAME } from '#local/stack.ts';
import { sign } from '#shared/domain/signature.ts';
import { startCrmServer } from '#stand-ins/crm-server.ts';
import { ADA_LOVELACE, ALAN_TURING, GRACE_HOPPER, typedPhone } from '#stand-ins/demo-data.ts';
import { TEST_SECRETS } from '#test/support/pii.ts';
import { leaveTableCreating } from '#test/support/stuck-table.ts';

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
  // The URL the banner shows: with PORT=0 the port is only known from it.
  const url = /listening on (http:\/\/\S+)/.exec(output)?.[1] ?? `http://127.0.0.1:${port}`;
  return { child, url, output: () => output };
}

/** Runs `npm start` expecting it to stop at once, with what it printed. */
async function failedStart(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: { ...process.env, PORT: String(await freePort()), LOCAL_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { code, stdout, stderr } = await exitOf(child);
  appendFileSync(captured, stdout + stderr);
  return { code, stdout, stderr };
}

/** Waits for a child process to exit, with what it wrote on each stream. */
async function exitOf(child: ChildProcess) {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

/** Runs a command line in a shell of the user's, which has none of the stack's settings. */
async function inShell(line: string, env: Record<string, string> = {}) {
  const { PORT, LOCAL_DATA_DIR, SYNC_API_URL, SYNC_SIGNING_SECRET, ...shellEnv } = process.env;
  const child = spawn('sh', ['-c', line], {
    env: { ...shellEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { code, stdout, stderr } = await exitOf(child);
  return { code, output: stdout + stderr };
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

    const login = { user_id: 'sms|local-e2e', phone_number: typedPhone(ADA_LOVELACE.phone) };
    const synced = await post(first.url, login, TEST_SECRETS.signing);
    expect(synced.status).toBe(200);
    expect(synced.body).toMatchObject({ status: 'synced', crm_id: ADA_LOVELACE.id });
    expect(synced.body.claims['https://crm.example.com/name']).toBe(ADA_LOVELACE.name);

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
        { user_id: 'sms|local-tz', phone_number: GRACE_HOPPER.phone },
        TEST_SECRETS.signing,
      );
      expect(res.body.claims['https://id.example.org/name']).toBe(GRACE_HOPPER.name);
      // Midnight in Kolkata is 18:30 UTC.
      expect(res.body.fresh_until).toMatch(/T18:30:00\.000Z$/);
    } finally {
      await stop(stack.child);
    }
  });

  it('uses the CRM at CRM_URL with CRM_API_KEY, and accepts the previous secret of a comma list', async () => {
    const crm = await startCrmServer({
      [ALAN_TURING.phone]: { id: 'X-77', name: ALAN_TURING.name },
    });
    const stack = await startLocalStack({
      SYNC_SIGNING_SECRET: `${TEST_SECRETS.signing},${TEST_SECRETS.previousSigning}`,
      CRM_URL: crm.url,
      CRM_API_KEY: TEST_SECRETS.crmApiKey,
    });
    try {
      expect(stack.output()).not.toContain('demo CRM at');
      const res = await post(
        stack.url,
        { user_id: 'sms|local-crm', phone_number: ALAN_TURING.phone },
        TEST_SECRETS.previousSigning,
      );
      expect(res.body).toMatchObject({ status: 'synced', crm_id: 'X-77' });
      expect(crm.requests.at(-1)?.headers['x-api-key']).toBe(TEST_SECRETS.crmApiKey);
    } finally {
      await stop(stack.child);
      await crm.close();
    }
  });
  it('prints a demo:crm-change line that reaches this stack, its data folder named even with SYNC_SIGNING_SECRET set', async () => {
    const folder = mkdtempSync(join(dataDir, 'crm-change-'));
    const stack = await startLocalStack({
      PORT: '0',
      LOCAL_DATA_DIR: folder,
      SYNC_SIGNING_SECRET: TEST_SECRETS.signing,
    });
    try {
      const command = /^ {2}(.*npm run demo:crm-change -- .*)$/m.exec(stack.output())?.[1] ?? '';
      expect(command).toContain(`LOCAL_DATA_DIR='${folder}'`);
      // Copied into another shell, as the banner suggests.
      const sent = await inShell(command);
      expect(sent.output).toContain('contact C-1001 changed (name)');
      expect(sent.output).toMatch(/HTTP 202 \{"accepted":1,"duplicates":0,"ignored":0\}/);
    } finally {
      await stop(stack.child);
    }
  });

  it.each([
    ['a PORT of its own and SYNC_SIGNING_SECRET', false],
    ['PORT=0 (any free port) and the secret it generated in LOCAL_DATA_DIR', true],
  ])('prints a sign command that reaches this very stack, with %s', async (_, anyPort) => {
    const env: Record<string, string> = anyPort
      ? { PORT: '0', LOCAL_DATA_DIR: mkdtempSync(join(dataDir, 'generated-')) }
      : { SYNC_SIGNING_SECRET: TEST_SECRETS.signing };
    const stack = await startLocalStack(env);
    try {
      const port = new URL(stack.url).port;
      expect(port).not.toBe('0');
      expect(stack.output()).toContain(`listening on http://127.0.0.1:${port}`);
      const command = /^ {2}(.*npm run -s sign -- .*)$/m.exec(stack.output())?.[1] ?? '';
      expect(command).toContain(`PORT=${port} `);
      // Copied into another shell, as the banner suggests, with --send added.
      const sent = await inShell(
        `${command} --send`,
        anyPort ? {} : { SYNC_SIGNING_SECRET: TEST_SECRETS.signing },
      );
      expect(sent.output).toMatch(/^HTTP 200\n/);
      expect(sent.output).toMatch(/"status": "(synced|cached)"/);
    } finally {
      await stop(stack.child);
    }
  });

  it.each([
    ['hubspot', 'HubSpot stand-in', /"https:\/\/crm\.example\.com\/first_name": "Ada"/],
    ['salesforce', 'Salesforce stand-in', /"https:\/\/crm\.example\.com\/name": "Ada Lovelace"/],
  ])(
    'CRM_KIND=%s npm start serves the demo people from the %s, and demo:login shows their claims',
    async (kind, label, claim) => {
      const stack = await startLocalStack({
        CRM_KIND: kind,
        LOCAL_DATA_DIR: mkdtempSync(join(dataDir, `${kind}-`)),
      });
      try {
        expect(stack.output()).toMatch(
          new RegExp(
            `CRM: ${kind} \\(CRM_KIND\\), embedded ${label} at http://127\\.0\\.0\\.1:\\d+`,
          ),
        );
        // Only the generic demo CRM can change a contact from the command line.
        expect(stack.output()).not.toContain('demo:crm-change');
        const line = /^ {2}(.*npm run demo:login -- .*)$/m.exec(stack.output())?.[1] ?? '';
        const login = await inShell(line);
        expect(login.code).toBe(0);
        expect(login.output).toMatch(
          /First login of sms\|demo-[0-9a-f]{12}: 1 call\(s\) to the sync API/,
        );
        expect(login.output).toMatch(claim);
        expect(login.output).toMatch(/Second login of sms\|demo-[0-9a-f]{12}: 0 call\(s\)/);
      } finally {
        await stop(stack.child);
      }
    },
    60_000,
  );

  const PORT_RANGE = 'must be a whole number from 0 to 65535 (0 picks any free port)';
  it.each([
    ['PORT', 'abc', PORT_RANGE],
    ['PORT', '65536', PORT_RANGE],
    ['PORT', '-1', PORT_RANGE],
    ['CRM_TIMEOUT_MS', 'abc', 'must be a whole number from 100 to 10000'],
    ['SYNC_TIME_ZONE', 'Mars/Olympus', 'must be an IANA time zone such as Europe/Paris'],
    ['CRM_URL', 'ftp://crm', 'must be an http(s) URL'],
  ])(
    'refuses %s=%s before starting anything, saying what it accepts',
    async (name, value, accepted) => {
      const folder = mkdtempSync(join(dataDir, 'refused-'));
      const refused = await failedStart({ LOCAL_DATA_DIR: folder, [name]: value });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(
        `local stack failed to start: Invalid configuration: ${name}: ${accepted}\n`,
      );
      expect(refused.stderr).not.toContain('Invalid input');
      expect(refused.stdout).toBe('');
      // Nothing was made: no generated secret, no DynamoDB folder, no table left half-created.
      expect(readdirSync(folder)).toEqual([]);
    },
  );

  it('recovers the stamp table a first start killed before it was ACTIVE left CREATING: logins are cached again', async () => {
    const folder = mkdtempSync(join(dataDir, 'stuck-'));
    await leaveTableCreating(join(folder, 'dynamodb'), LOCAL_TABLE_NAME);
    const stack = await startLocalStack({
      SYNC_SIGNING_SECRET: TEST_SECRETS.signing,
      LOCAL_DATA_DIR: folder,
    });
    try {
      const login = { user_id: 'sms|local-stuck', phone_number: ADA_LOVELACE.phone };
      const first = await post(stack.url, login, TEST_SECRETS.signing);
      expect(first.body).toMatchObject({ status: 'synced', crm_id: ADA_LOVELACE.id });
      const second = await post(stack.url, login, TEST_SECRETS.signing);
      expect(second.body).toMatchObject({ status: 'cached', synced_at: first.body.synced_at });
    } finally {
      await stop(stack.child);
    }
  });
});
