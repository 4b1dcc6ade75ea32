import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '#shared/config.ts';
import { parseJsonObject } from '#shared/domain/json-object.ts';
import { buildApp } from './build-app.ts';
import { controlTowerSummary } from './control-tower.ts';

/**
 * `npx cdk synth|deploy`: settings from CDK context (cdk.json, -c key=value). A wrong setting
 * prints its message, which names the key, and exits 1: a stack trace would bury the message
 * under frames of the app's own code.
 */
try {
  const assembly = buildApp({}, { cdkJsonContext: cdkJsonContext() }).app.synth();
  // Absent when validation is off (`cdk synth --no-validation`).
  const report = join(assembly.directory, 'validation-report.json');
  const summary = existsSync(report)
    ? controlTowerSummary(readFileSync(report, 'utf8'))
    : undefined;
  // What each acknowledgement says is in that report, which `cdk synth` leaves in cdk.out.
  if (summary) process.stderr.write(`${summary} (reasons in cdk.out/validation-report.json)\n`);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

/**
 * The context the CLI read from files: ~/.cdk.json, cdk.json and cdk.context.json (the CLI's own
 * cache, where `cdk acknowledge` writes too), merged as the CLI merges them. What differs from it
 * came from `-c`. A `-c` value equal to the files' own top-level value cannot be told apart
 * (the CLI hands the app one merged context): to override a stage's value with it, edit the
 * stage's block.
 */
function cdkJsonContext(): Record<string, unknown> | undefined {
  const project = readJson('cdk.json');
  if (project === undefined) return undefined;
  // The CLI's order (aws-cdk lib/cli/user-configuration.js): cdk.json over cdk.context.json over
  // ~/.cdk.json, objects merged key by key.
  return [readJson('cdk.context.json') ?? {}, contextOf(project)].reduce(
    deepMerge,
    contextOf(readJson(join(homedir(), '.cdk.json'))),
  );
}

function deepMerge(
  under: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const merged = { ...under };
  for (const [key, value] of Object.entries(over)) {
    const below = merged[key];
    merged[key] = isPlainObject(below) && isPlainObject(value) ? deepMerge(below, value) : value;
  }
  return merged;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    return parseJsonObject(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function contextOf(file: Record<string, unknown> | undefined): Record<string, unknown> {
  const context = file?.context;
  return typeof context === 'object' && context !== null
    ? (context as Record<string, unknown>)
    : {};
}
