import { ConfigError } from '#shared/config.ts';
import { parseJsonObject } from '#shared/domain/json-object.ts';
import { STACK_CONFIG_KEYS } from './config.ts';
import { readTags, stageTags } from './tags.ts';

/**
 * The named stages of cdk.json (`context.stages`): each a stack with its own account, region,
 * termination protection and tags, and its own values for any setting (its block wins over the
 * top-level context, a value given with `-c` wins over both). `-c stage=<name>` synthesizes that stage only; without it every stage is
 * synthesized, so `cdk deploy Auth0CrmSync-prod` picks one by stack name.
 *
 * Without `stages`, the app is the single stack it was before stages existed: named by
 * `stackName` (Auth0CrmSync by default), deployable to whatever account the CLI's credentials
 * name.
 */
export interface Stage {
  readonly name: string;
  readonly stackName: string;
  /** Where the stack deploys; undefined only without `stages` (environment-agnostic). */
  readonly env?: { readonly account: string; readonly region: string };
  readonly terminationProtection: boolean;
  /** Every tag of the stage, `stage` and `service` included. */
  readonly tags: Readonly<Record<string, string>>;
  /** The context as this stage reads it: its own block over the top-level values. */
  readonly context: (key: string) => unknown;
  /**
   * Whether the stage takes this setting from the top level of cdk.json (not its own block, not
   * `-c`), where it may be meant for another stage. Never for the single stack without stages.
   */
  readonly inherited: (key: string) => boolean;
}

export const DEFAULT_STACK_NAME = 'Auth0CrmSync';
/** The stage tag of the single stack of a cdk.json without stages. */
export const SINGLE_STACK_STAGE = 'default';

/** What a stage's block holds besides settings. */
const STAGE_PROPERTIES = ['account', 'region', 'terminationProtection', 'tags', 'stackName'];

const STAGE_NAME = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
/** CloudFormation: "[a-zA-Z][-a-zA-Z0-9]*", at most 128 characters (CreateStack, StackName). */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/**
 * The stages to synthesize, from the context; throws ConfigError naming the key.
 * `fromCommandLine` says which keys `-c` gave: those win over a stage's own value.
 */
export function readStages(
  context: (key: string) => unknown,
  fromCommandLine: (key: string) => boolean = () => false,
): Stage[] {
  const globalTags = readTags(context('tags'), 'tags');
  const stages = readStageBlocks(context('stages'));
  const selected = context('stage');
  if (selected !== undefined && typeof selected !== 'string') {
    throw invalid('stage: must be the name of a stage');
  }
  if (stages === undefined) {
    if (selected !== undefined) {
      throw invalid(`stage: "${selected}" was asked for, but cdk.json's context has no stages`);
    }
    const stackName = stackNameOf(context('stackName') ?? DEFAULT_STACK_NAME, 'stackName');
    return [
      {
        name: SINGLE_STACK_STAGE,
        stackName,
        terminationProtection: false,
        tags: stageTags(SINGLE_STACK_STAGE, globalTags, {}, 'tags'),
        context,
        inherited: () => false,
      },
    ];
  }
  const names = Object.keys(stages);
  if (selected !== undefined && !names.includes(selected)) {
    throw invalid(`stage: unknown stage "${selected}"; the stages are ${names.join(', ')}`);
  }
  const topLevelStackName = context('stackName');
  if (topLevelStackName !== undefined && selected === undefined && names.length > 1) {
    throw invalid(
      `stackName: names one stack, but the stages ${names.join(', ')} are all synthesized; ` +
        'give -c stage=<name> with it, or set stages.<name>.stackName in cdk.json',
    );
  }
  const picked = selected === undefined ? names : [selected];
  const result = picked.map((name) =>
    readStage(name, stages[name] ?? {}, context, fromCommandLine, globalTags, topLevelStackName),
  );
  const seen = new Set<string>();
  for (const stage of result) {
    if (seen.has(stage.stackName)) {
      throw invalid(`stages: two stages deploy the same stack name ${stage.stackName}`);
    }
    seen.add(stage.stackName);
  }
  return result;
}

function readStage(
  name: string,
  block: Record<string, unknown>,
  context: (key: string) => unknown,
  fromCommandLine: (key: string) => boolean,
  globalTags: Record<string, string>,
  topLevelStackName: unknown,
): Stage {
  const key = (property: string) => `stages.${name}.${property}`;
  if (!STAGE_NAME.test(name)) {
    throw invalid(
      `stages: "${name}" is not a stage name (a letter, then letters, digits and hyphens; 64 at most)`,
    );
  }
  for (const property of Object.keys(block)) {
    if (!STAGE_PROPERTIES.includes(property) && !STACK_CONFIG_KEYS.includes(property)) {
      throw invalid(
        `${key(property)}: not a stage property (${STAGE_PROPERTIES.join(', ')}) nor a setting; the settings are ${STACK_CONFIG_KEYS.join(', ')}`,
      );
    }
  }
  const { account, region } = block;
  if (typeof account !== 'string' || !ACCOUNT.test(account)) {
    throw invalid(`${key('account')}: must be the 12-digit AWS account id, as a string`);
  }
  if (typeof region !== 'string' || !REGION.test(region)) {
    throw invalid(`${key('region')}: must be an AWS region such as eu-west-1`);
  }
  const protection = block.terminationProtection ?? false;
  const terminationProtection = protection === true || protection === 'true';
  if (!terminationProtection && protection !== false && protection !== 'false') {
    throw invalid(`${key('terminationProtection')}: must be true or false`);
  }
  const stackName =
    block.stackName !== undefined
      ? stackNameOf(block.stackName, key('stackName'))
      : topLevelStackName !== undefined
        ? stackNameOf(topLevelStackName, 'stackName')
        : `${DEFAULT_STACK_NAME}-${name}`;
  const tags = stageTags(name, globalTags, readTags(block.tags, key('tags')), key('tags'));
  return {
    name,
    stackName,
    env: { account, region },
    terminationProtection,
    tags,
    context: blockContext(block, context, fromCommandLine),
    inherited: (setting) => !Object.hasOwn(block, setting) && !fromCommandLine(setting),
  };
}

/**
 * Whether any stage of cdk.json is governed (picked by `-c stage` or not): its own `governed`,
 * or the top-level one, or `-c governed`, which wins over both. Without stages, none is.
 */
export function anyStageGoverned(
  context: (key: string) => unknown,
  fromCommandLine: (key: string) => boolean = () => false,
): boolean {
  const blocks = readStageBlocks(context('stages'));
  if (blocks === undefined) return false;
  const isTrue = (value: unknown) => value === true || value === 'true';
  return Object.values(blocks).some((block) =>
    isTrue(blockContext(block, context, fromCommandLine)('governed')),
  );
}

/** A stage's context: its own block over the top-level values, a `-c` value over both. */
function blockContext(
  block: Record<string, unknown>,
  context: (key: string) => unknown,
  fromCommandLine: (key: string) => boolean,
): (key: string) => unknown {
  return (setting) =>
    Object.hasOwn(block, setting) && !fromCommandLine(setting) ? block[setting] : context(setting);
}

/** The top-level keys the app reads besides the settings. */
const APP_KEYS = ['stage', 'stages', 'tags', 'stackName'];

/**
 * Keys the CDK CLI itself writes into cdk.context.json or cdk.json: `cdk acknowledge <n>` and
 * `cdk cli-telemetry --disable` (aws-cdk's lib/cli/cdk-toolkit.js). Refusing them would break
 * every synth after either command.
 */
const CLI_KEYS = ['acknowledged-issue-numbers', 'cli-telemetry'];

/**
 * Refuses a top-level key the app does not read: `-c crmRatePerSec=5` would otherwise pass
 * unnoticed and deploy the default. Keys with `:` or `/` belong to the CDK (feature flags,
 * `aws:cdk:*`, lookups cached in cdk.context.json) and are left alone.
 */
export function checkContextKeys(keys: readonly string[]): void {
  const known = [...STACK_CONFIG_KEYS, ...APP_KEYS];
  const unknown = keys.filter(
    (key) => !/[:/]/.test(key) && !known.includes(key) && !CLI_KEYS.includes(key),
  );
  if (unknown.length === 0) return;
  throw invalid(`${unknown.join(', ')}: not a key the app reads; the keys are ${known.join(', ')}`);
}

/** `stages` as an object of objects: from cdk.json, or its JSON text from `-c stages='{…}'`. */
function readStageBlocks(value: unknown): Record<string, Record<string, unknown>> | undefined {
  if (value === undefined) return undefined;
  const parsed = typeof value === 'string' ? parseJsonObject(value) : value;
  const accepted =
    'stages: must be an object of stage names to their settings, e.g. {"prod":{"account":"444455556666","region":"eu-west-1"}}';
  if (!isObject(parsed) || Object.keys(parsed).length === 0) throw invalid(accepted);
  for (const [name, block] of Object.entries(parsed)) {
    if (!isObject(block)) throw invalid(`stages.${name}: must be an object (${accepted})`);
  }
  return parsed as Record<string, Record<string, unknown>>;
}

function stackNameOf(value: unknown, key: string): string {
  if (typeof value !== 'string' || !STACK_NAME.test(value)) {
    throw invalid(
      `${key}: must be a CloudFormation stack name (a letter, then letters, digits and hyphens; 128 at most)`,
    );
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(message: string): ConfigError {
  return new ConfigError(`Invalid CDK context: ${message}`);
}
