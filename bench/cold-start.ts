import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { lambdaBundleOptions } from '#infra/bundling.ts';
import { summarise } from './stats.ts';

// What a cold start parses and runs before the first request: the bundle's import.
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
};

function importMs(file: string, runs: number): number[] {
  const script = `const t=performance.now();await import(${JSON.stringify(file)});process.stdout.write(String(performance.now()-t));`;
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...ENV, PATH: process.env.PATH ?? '' },
      cwd: process.cwd(),
    });
    times.push(Number(out.toString()));
  }
  return times;
}

/**
 * The sync handler as deployed (lambdaBundleOptions: minified, SDK bundled) against the same
 * handler bundled with esbuild's defaults and the AWS SDK left to the runtime (not minified).
 */
export async function benchColdStart(entries: readonly string[], runs: number): Promise<string[]> {
  const lines = [
    `## Cold-start proxy: bundle size and import time in a fresh Node ${process.version}`,
  ];
  for (const entry of entries) lines.push(...(await benchEntry(entry, runs)));
  return lines;
}

async function benchEntry(entry: string, runs: number): Promise<string[]> {
  // Inside the project, so the baseline's external SDK resolves from node_modules.
  const cache = join(process.cwd(), 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'crm-sync-bundle-'));
  try {
    const deployed = join(dir, 'deployed.mjs');
    const defaults = join(dir, 'defaults.mjs');
    await build({ ...lambdaBundleOptions, entryPoints: [entry], outfile: deployed });
    await build({
      entryPoints: [entry],
      outfile: defaults,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node24',
      external: ['@aws-sdk/*', '@smithy/*'],
      banner: { js: lambdaBundleOptions.banner.js },
    });
    const size = (f: string) => statSync(f).size;
    const gz = (f: string) => gzipSync(readFileSync(f)).length;
    const d = summarise(importMs(deployed, runs));
    const b = summarise(importMs(defaults, runs));
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
    return [
      `${entry}`,
      `  deployed (minified, SDK bundled):   ${kb(size(deployed)).padStart(10)} (${kb(gz(deployed))} gzip)  import p50 ${d.p50.toFixed(1)} ms  p90 ${d.p90.toFixed(1)} ms  (n=${d.n})`,
      `  baseline (defaults, SDK external): ${kb(size(defaults)).padStart(10)} (${kb(gz(defaults))} gzip) + SDK from node_modules  import p50 ${b.p50.toFixed(1)} ms  p90 ${b.p90.toFixed(1)} ms`,
      `  ratio deployed/baseline import p50: ${(d.p50 / b.p50).toFixed(2)}`,
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
