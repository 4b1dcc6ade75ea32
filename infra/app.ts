import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '#shared/config.ts';
import { parseJsonObject } from '#shared/domain/json-object.ts';
import { buildApp } from './build-app.ts';

/**
 * `npx cdk synth|deploy`: settings from CDK context (cdk.json, -c key=value). A wrong setting
 * prints its message, which names the key, and exits 1: a stack trace would bury the message
 * under frames of the app's own code.
 */
try {
  buildApp({}, { cdkJsonContext: cdkJsonContext() }).app.synth();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

/**
 * The context the CLI read from files: ~/.cdk.json, cdk.json and cdk.context.json (the CLI's own
 * cache, where `cdk acknowledge` writes too), merged in the CLI's order. What differs from it
 * came from `-c`. A `-c` value equal to the files' own top-level value cannot be told apart
 * (the CLI hands the app one merged context): to override a stage's value with it, edit the
 * stage's block.
 */
function cdkJsonContext(): Record<string, unknown> | undefined {
  const project = readJson('cdk.json');
  if (project === undefined) return undefined;
  return {
    ...contextOf(readJson(join(homedir(), '.cdk.json'))),
    ...contextOf(project),
    ...(readJson('cdk.context.json') ?? {}),
  };
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
