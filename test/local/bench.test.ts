import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm run bench', () => {
  it('shows progress on stderr as each section starts and ends, and the report on stdout', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', '--quick', '--only=sync'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    // What arrives on which stream, in the order it arrives.
    const arrivals: { stream: 'stdout' | 'stderr'; text: string }[] = [];
    child.stdout.on('data', (chunk: Buffer) =>
      arrivals.push({ stream: 'stdout', text: `${chunk}` }),
    );
    child.stderr.on('data', (chunk: Buffer) =>
      arrivals.push({ stream: 'stderr', text: `${chunk}` }),
    );
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);

    const of = (stream: string) =>
      arrivals
        .filter((a) => a.stream === stream)
        .map((a) => a.text)
        .join('');
    expect(of('stderr').split('\n')).toEqual([
      expect.stringMatching(/^\[bench +\d+\.\d s\] sync: started$/),
      expect.stringMatching(/^\[bench +\d+\.\d s\] sync: done in \d+\.\d s$/),
      '',
    ]);
    // The section's start shows before the report, which comes whole at the end.
    const started = arrivals.findIndex((a) => a.text.includes('sync: started'));
    const report = arrivals.findIndex((a) => a.stream === 'stdout');
    expect(started).toBeGreaterThanOrEqual(0);
    expect(started).toBeLessThan(report);
    expect(of('stdout')).toMatch(/^auth0-crm-sync benchmarks — \S+ — Node v\d+/);
    expect(of('stdout')).toContain('## Sync handler, cached path');
    expect(of('stdout')).not.toContain('[bench');
  }, 120_000);
});
