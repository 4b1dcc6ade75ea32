import { readFileSync } from 'node:fs';
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

/** cdk.json's own context: the CLI runs the app beside it (`--app` elsewhere has none). */
function cdkJsonContext(): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync('cdk.json', 'utf8');
  } catch {
    return undefined;
  }
  const context = parseJsonObject(text)?.context;
  return typeof context === 'object' && context !== null
    ? (context as Record<string, unknown>)
    : undefined;
}
