import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

describe('npm run backfill:local', () => {
  it('runs the whole backfill on a seeded tenant: progress lines on a non-terminal stderr, the summary at the end', async () => {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        'local/backfill-local.ts',
        '--users',
        '300',
        '--changed',
        '0.1',
        '--crm-rate',
        '5000',
        '--auth0-writes',
        '200',
        '--workers',
        '4',
      ],
      { env: { ...process.env, LOG_LEVEL: 'INFO' } },
    );
    expect(stdout).toMatch(/300 users \(30 with changed CRM data\)/);
    expect(stdout).toMatch(/checked 300 users in [\d.]+ s: \d+ users\/s/);
    expect(stdout).toMatch(/changed 30 · unchanged 270 · not found 0 · failed 0/);
    expect(stdout).toMatch(/Auth0 user writes 30 · CRM calls 300 /);
    expect(stdout).toMatch(/users lost: 0 · profiles matching the CRM: 300\/300/);
    const summary = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.message === 'backfill run');
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({
      checked: 300,
      changed: 30,
      unchanged: 270,
      BackfillChecked: 300,
    });

    // stderr is a pipe here, not a terminal: plain lines about every 10%, no carriage returns.
    expect(stderr).not.toContain('\r');
    const progress = stderr.split('\n').filter((l) => l.startsWith('backfill '));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeLessThanOrEqual(11);
    expect(progress.at(-1)).toMatch(/^backfill 100% 300\/300 users/);
  });
});
