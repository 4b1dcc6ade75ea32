import { execFile, spawn } from 'node:child_process';
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
    const lines = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // The users went through the shipped worker: its one line per SQS batch of at most 10.
    const batches = lines.filter((e) => e.message === 'backfill batch');
    expect(batches.length).toBeGreaterThanOrEqual(30);
    expect(batches.every((b) => (b.users as number) <= 10)).toBe(true);
    expect(batches.reduce((sum, b) => sum + (b.BackfillChecked as number), 0)).toBe(300);
    const summary = lines.filter((e) => e.message === 'backfill run');
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

describe('Ctrl-C during npm run backfill:local', () => {
  it('stops between batches and still prints what the run did, as an interrupted run', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'local/backfill-local.ts', '--users', '20000', '--crm-rate', '400'],
      { env: { ...process.env, LOG_LEVEL: 'INFO' } },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Interrupted once the run has begun: its first progress line.
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk;
        if (/^backfill /m.test(stderr)) resolve();
      }),
    );
    child.kill('SIGINT');
    expect(await exited).toBe(130);

    const checked = Number(/checked ([\d,]+) users in/.exec(stdout)?.[1]?.replaceAll(',', ''));
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThan(20_000);
    expect(stdout).toMatch(/interrupted: [\d,]+ users not handled yet/);
    expect(stdout).not.toMatch(/users lost/);
    const summary = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.message === 'backfill run');
    expect(summary).toMatchObject({ interrupted: true, done: false, checked });
    // No resume point is claimed: users below the export's position may still have been queued.
    expect(summary).not.toHaveProperty('next');
  });
});
