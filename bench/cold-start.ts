import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildColdBundles, COLD_START_BASELINE_COMMIT, LAMBDA_ENTRIES } from './cold-bundles.ts';
import { benchColdRequest } from './cold-request.ts';
import { summarise } from './stats.ts';

// What every function's import reads from its environment (each parses its settings at load).
const ENV = {
  TABLE_NAME: 'bench-stamps',
  SYNC_SIGNING_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:signing',
  CRM_API_KEY_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:crm',
  CRM_URL: 'https://crm.example.com/lookup',
  AUTH0_DOMAIN: 'tenant.example.auth0.com',
  AUTH0_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:000000000000:secret:auth0',
  BACKFILL_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/000000000000/users',
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  TZ: ':UTC',
  // The sync bundle starts reading its secrets at import: a port that refuses at once keeps
  // that on this machine (it would otherwise ask AWS, with keys that are not keys).
  AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9',
};

/** How long a fresh Node process takes to import `file`. */
function importMs(file: string): number {
  const script = `const t=performance.now();await import(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t));process.exit(0);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...ENV, PATH: process.env.PATH ?? '' },
    cwd: process.cwd(),
  });
  return Number(out.toString());
}

/**
 * `--only=cold`: every Lambda's bundle as deployed (infra/bundling.ts), before (the baseline
 * commit) and after (this tree): its size and its import in a fresh process; then the sync
 * Lambda's load and first signed request against a one-line handler (cold-request.ts).
 */
export async function benchColdStart(runs: number): Promise<string[]> {
  // Inside the project, so the baseline's sources resolve the project's node_modules.
  const cache = join(process.cwd(), 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'crm-sync-cold-'));
  try {
    const bundles = await buildColdBundles(dir);
    const lines = [
      `## Lambda bundles: size and import in a fresh Node ${process.version} (p50 of ${runs}), before (${COLD_START_BASELINE_COMMIT}) and after`,
    ];
    const kib = (f: string) => `${(statSync(f).size / 1024).toFixed(1)} KiB`.padStart(11);
    const gz = (f: string) => `${(gzipSync(readFileSync(f)).length / 1024).toFixed(1)} KiB gzip`;
    for (const entry of LAMBDA_ENTRIES) {
      lines.push(`  ${entry}`);
      const versions = [
        ...(bundles.before ? [['before', bundles.before[entry]] as const] : []),
        ['after', bundles.after[entry]] as const,
      ];
      // Alternating, the order turned each round, so a slow moment of the machine falls on
      // both; a first round warms the file cache and is not counted.
      const times = new Map<string, number[]>();
      for (let i = -1; i < runs; i++) {
        const order = i % 2 === 0 ? versions : [...versions].reverse();
        for (const [name, file] of order) {
          const ms = importMs(file);
          if (i >= 0) times.set(name, [...(times.get(name) ?? []), ms]);
        }
      }
      for (const [name, file] of versions) {
        const s = summarise(times.get(name) ?? []);
        lines.push(
          `    ${name.padEnd(7)} ${kib(file)} (${gz(file)})   import p50 ${s.p50.toFixed(1).padStart(6)} ms  p90 ${s.p90.toFixed(1).padStart(6)} ms`,
        );
      }
    }
    if (!bundles.before) {
      lines.push(
        `  before (${COLD_START_BASELINE_COMMIT}): not measured, ${bundles.beforeMissing}`,
      );
    }
    return [...lines, '', ...(await benchColdRequest(bundles, dir, runs))];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
