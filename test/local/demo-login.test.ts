import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { GRACE_HOPPER } from '#stand-ins/demo-data.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'crm-sync-demo-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('npm run demo:login', () => {
  it('shows a first login that calls the sync API and a second one that makes no call', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'local/demo-login.ts', GRACE_HOPPER.phone],
      // PORT=0: no running npm start to find, whatever listens on 3000; a stack in memory.
      { env: { ...process.env, LOCAL_DATA_DIR: dataDir, SYNC_API_URL: '', PORT: '0' } },
    );
    expect(stdout).toMatch(
      /First login of sms\|demo-[0-9a-f]{12}: 1 call\(s\) to the sync API, 1 metadata write/,
    );
    expect(stdout).toMatch(
      /Second login of sms\|demo-[0-9a-f]{12}: 0 call\(s\) to the sync API, 0 metadata write/,
    );
    // The claim, shown after each of the two logins.
    expect(stdout.split(`"https://crm.example.com/name": "${GRACE_HOPPER.name}"`)).toHaveLength(3);
  });
});
