import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { lambdaBundleOptions } from '#infra/bundling.ts';

/**
 * The commit issue 12 (cold start) started from. Its Lambda bundles are the "before" of every
 * cold-start run: rebuilt from git with the bundle options it had (no module aliases) and
 * today's node_modules, so before and after are measured on one machine, in one run. Without
 * git history (a tarball), only "after" is measured.
 */
export const COLD_START_BASELINE_COMMIT = 'd676cf1';

/** The Lambdas the stack deploys, by entry file. */
export const LAMBDA_ENTRIES = [
  'functions/sync/handler.ts',
  'functions/backfill-worker/handler.ts',
  'functions/backfill-orchestrator/handler.ts',
  'functions/auth0-action-installer/handler.ts',
] as const;

export type LambdaEntry = (typeof LAMBDA_ENTRIES)[number];

export interface ColdBundles {
  /** This tree's bundles, as the stack builds them (infra/bundling.ts). */
  readonly after: Readonly<Record<LambdaEntry, string>>;
  /** The baseline commit's, or undefined when they could not be built (`beforeMissing` says why). */
  readonly before: Readonly<Record<LambdaEntry, string>> | undefined;
  readonly beforeMissing?: string;
  /** `export const handler = async () => ({ statusCode: 200, body: '{}' })`, bundled the same way. */
  readonly oneLiner: string;
}

/**
 * Builds every bundle into `dir`, which must lie inside the project (node_modules/.cache), so
 * the baseline's sources, extracted there, resolve the project's node_modules.
 */
export async function buildColdBundles(dir: string): Promise<ColdBundles> {
  const after = await buildAll(process.cwd(), join(dir, 'after'), lambdaBundleOptions);
  const oneLinerEntry = join(dir, 'one-line.ts');
  writeFileSync(
    oneLinerEntry,
    "export const handler = async () => ({ statusCode: 200, body: '{}' });\n",
  );
  const oneLiner = join(dir, 'one-line.mjs');
  await build({
    ...lambdaBundleOptions,
    entryPoints: [oneLinerEntry],
    outfile: oneLiner,
    logLevel: 'error',
  });
  const tree = join(dir, 'baseline');
  if (!extractBaseline(tree)) {
    return { after, before: undefined, beforeMissing: 'no git history holding it', oneLiner };
  }
  // The options of that commit: today's without the module aliases it did not have (checked
  // byte for byte against its own infra/bundling.ts when this was written).
  const { alias: _none, ...baselineOptions } = lambdaBundleOptions;
  try {
    const before = await buildAll(tree, join(dir, 'before'), baselineOptions);
    return { after, before, oneLiner };
  } catch (error) {
    const reason = `it no longer builds with today's node_modules: ${(error as Error).message.split('\n')[0]}`;
    return { after, before: undefined, beforeMissing: reason, oneLiner };
  }
}

async function buildAll(
  root: string,
  outDir: string,
  options: Omit<typeof lambdaBundleOptions, 'alias'>,
): Promise<Record<LambdaEntry, string>> {
  mkdirSync(outDir, { recursive: true });
  const files = {} as Record<LambdaEntry, string>;
  for (const entry of LAMBDA_ENTRIES) {
    const outfile = join(outDir, `${entry.split('/')[1]}.mjs`);
    await build({ ...options, entryPoints: [join(root, entry)], outfile, logLevel: 'error' });
    files[entry] = outfile;
  }
  return files;
}

/** The baseline's sources under `tree`, from git; false when this clone has no such commit. */
function extractBaseline(tree: string): boolean {
  mkdirSync(tree, { recursive: true });
  try {
    const archive = execFileSync(
      'git',
      ['archive', COLD_START_BASELINE_COMMIT, 'package.json', 'functions', 'shared'],
      { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 },
    );
    execFileSync('tar', ['-x', '-C', tree], { input: archive });
    return true;
  } catch {
    return false;
  }
}
