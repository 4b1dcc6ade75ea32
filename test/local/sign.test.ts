import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_SECRETS } from '#test/support/pii.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'crm-sync-sign-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** `npm run -s sign -- …` as a user runs it, in a shell without SYNC_API_URL. */
async function runSign(env: Record<string, string | undefined>, args: string[] = []) {
  const { PORT, SYNC_API_URL, ...shellEnv } = process.env;
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/sign.ts', ...args, '{"user_id":"sms|x"}'],
      {
        env: {
          ...shellEnv,
          LOCAL_DATA_DIR: dataDir,
          SYNC_SIGNING_SECRET: TEST_SECRETS.signing,
          ...env,
        },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

describe('npm run sign', () => {
  it.each([
    ['3456', 3456],
    [undefined, 3000],
    ['', 3000],
  ])('prints a curl line for the local stack on PORT=%j', async (port, expected) => {
    const { code, stdout } = await runSign({ PORT: port });
    expect(code).toBe(0);
    expect(stdout).toMatch(
      new RegExp(
        `^curl -sS -X POST 'http://127\\.0\\.0\\.1:${expected}/v1/sync' .*x-sync-signature: t=\\d+,v1=[0-9a-f]{64}`,
      ),
    );
    expect(stdout).toContain(`--data-raw '{"user_id":"sms|x"}'`);
  });

  it.each(['abc', '65536', '-1', '3.5'])(
    'refuses PORT=%j, saying what PORT accepts',
    async (port) => {
      const { code, stdout, stderr } = await runSign({ PORT: port });
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toBe(
        'Invalid configuration: PORT: must be a whole number from 0 to 65535 (0 picks any free port)\n',
      );
    },
  );

  it('refuses PORT=0, which only npm start can use, pointing at the port its banner shows', async () => {
    const { code, stdout, stderr } = await runSign({ PORT: '0' });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^PORT=0 .*set PORT to the one its banner shows/);
  });

  it('says which URL did not answer when nothing listens there (--send)', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));

    const { code, stderr } = await runSign({ PORT: String(port) }, ['--send']);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `no answer from http://127.0.0.1:${port}/v1/sync (ECONNREFUSED): is npm start running, on this PORT?\n`,
    );
  });
});
