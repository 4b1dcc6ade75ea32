import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type HostileAnswer, startHostileCrm } from '#stand-ins/crm-server.ts';
import { ADA_LOVELACE } from '#stand-ins/demo-data.ts';
import { gzipBomb } from '#stand-ins/hostile-crm.ts';
import { ms, summarise } from './stats.ts';

const MiB = 1024 * 1024;
const run = promisify(execFile);

interface Scenario {
  readonly label: string;
  readonly behaviour: HostileAnswer;
  readonly runs: number;
  readonly mode?: 'unbounded';
}

/**
 * What one CRM lookup costs when the CRM is hostile: peak memory growth of the process and
 * the time to answer, against a well-behaved CRM measured in the same run. Each scenario runs
 * in a child process of its own (bench/hostile-crm-client.ts), so the peak is its alone.
 */
export async function benchHostileCrm(quick: boolean): Promise<string[]> {
  const record: HostileAnswer = { body: { id: ADA_LOVELACE.id, name: ADA_LOVELACE.name } };
  gzipBomb(300 * MiB); // built before any timing
  const n = quick ? 5 : 30;
  const scenarios: Scenario[] = [
    { label: 'well-behaved CRM (baseline), 45 B record', behaviour: record, runs: n * 4 },
    {
      label: '300 MiB gzip bomb (299 KiB on the wire)',
      behaviour: { kind: 'gzip-bomb', inflatedBytes: 300 * MiB },
      runs: n,
    },
    {
      label: '50 MiB chunked, no content-length',
      behaviour: { kind: 'stream', totalBytes: 50 * MiB },
      runs: n,
    },
    {
      label: '2 MiB in one-byte chunks',
      behaviour: { kind: 'tiny-chunks', count: 2 * MiB },
      runs: quick ? 1 : 5,
    },
    {
      label: 'a byte every 50 ms, forever',
      behaviour: { kind: 'drip', intervalMs: 50 },
      runs: quick ? 1 : 3,
    },
    {
      label: 'reference: bomb read whole (before)',
      behaviour: { kind: 'gzip-bomb', inflatedBytes: 300 * MiB },
      runs: 1,
      mode: 'unbounded',
    },
    {
      label: 'reference: 50 MiB read whole (before)',
      behaviour: { kind: 'stream', totalBytes: 50 * MiB },
      runs: 1,
      mode: 'unbounded',
    },
  ];
  const warmup = await startHostileCrm(record);
  const lines = [
    '## Hostile CRM: one lookup through HttpCrm (cap 1 MiB decoded, timeout 2,500 ms)',
    `${'scenario'.padEnd(42)} ${'n'.padStart(4)} ${'p50'.padStart(11)} ${'p99'.padStart(11)} ${'p50 ratio'.padStart(10)} ${'peak RSS growth'.padStart(16)}  outcome`,
  ];
  let baselineP50 = Number.NaN;
  try {
    for (const scenario of scenarios) {
      const crm = await startHostileCrm(scenario.behaviour);
      try {
        process.stderr.write(`  hostile CRM: ${scenario.label}…\n`);
        const { stdout } = await run(
          process.execPath,
          ['--expose-gc', '--import', 'tsx', 'bench/hostile-crm-client.ts'],
          {
            env: {
              ...process.env,
              TARGET_URL: crm.url,
              WARMUP_URL: warmup.url,
              N: String(scenario.runs),
              ...(scenario.mode ? { MODE: scenario.mode } : {}),
            },
            maxBuffer: 1024 * 1024,
          },
        );
        const result = JSON.parse(stdout) as {
          times: number[];
          peakGrowth: number;
          outcomes: Record<string, number>;
        };
        const s = summarise(result.times);
        if (Number.isNaN(baselineP50)) baselineP50 = s.p50;
        const outcome = Object.entries(result.outcomes)
          .map(([k, v]) => `${k} ×${v}`)
          .join(', ');
        lines.push(
          `${scenario.label.padEnd(42)} ${String(s.n).padStart(4)} ${ms(s.p50).padStart(11)} ${ms(s.p99).padStart(11)} ${`${(s.p50 / baselineP50).toFixed(1)}×`.padStart(10)} ${`${(result.peakGrowth / MiB).toFixed(1)} MiB`.padStart(16)}  ${outcome}`,
        );
      } finally {
        await crm.close();
      }
    }
  } finally {
    await warmup.close();
  }
  lines.push(
    '(peak RSS growth: the most the process grew over all n lookups after warm-up, no GC forced between; the Lambda has 512 MB)',
  );
  return lines;
}
