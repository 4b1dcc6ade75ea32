import { ConfigError } from '#shared/config.ts';
import { parseJsonObject } from '#shared/domain/json-object.ts';

/** The tags the app puts on every resource itself; a `tags` map may not set them. */
export const SERVICE_TAG = { key: 'service', value: 'auth0-crm-sync' } as const;
export const STAGE_TAG_KEY = 'stage';

/**
 * AWS's tag rules ("Tag naming limits and requirements",
 * https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html): a key of 1 to 128
 * characters, a value of 0 to 256, letters, digits, spaces and `_ . : / = + - @` (the set every
 * service accepts), no `aws:` prefix in either (reserved for AWS), at most 50 user tags per
 * resource. A tag CloudFormation refuses fails the deploy midway; checked here it fails synth.
 */
const MAX_KEY = 128;
const MAX_VALUE = 256;
const MAX_TAGS = 50;
const ALLOWED = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** A `tags` map from context (an object, or its JSON text from `-c tags='{…}'`), checked. */
export function readTags(value: unknown, key: string): Record<string, string> {
  if (value === undefined) return {};
  const parsed = typeof value === 'string' ? parseJsonObject(value) : value;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(
      `Invalid CDK context: ${key}: must be an object of tag names to values, e.g. {"team":"identity"}`,
    );
  }
  const tags: Record<string, string> = {};
  for (const [name, tagValue] of Object.entries(parsed)) {
    const problem = tagProblem(name, tagValue);
    if (problem !== undefined) {
      throw new ConfigError(`Invalid CDK context: ${key}: tag "${name}" ${problem}`);
    }
    tags[name] = tagValue as string;
  }
  return tags;
}

function tagProblem(name: string, value: unknown): string | undefined {
  if (name === STAGE_TAG_KEY || name === SERVICE_TAG.key) {
    return 'is set by the app on every resource (the stage name and auth0-crm-sync)';
  }
  if (name.length === 0 || name.length > MAX_KEY) return `must have 1 to ${MAX_KEY} characters`;
  if (!ALLOWED.test(name)) return 'may hold only letters, digits, spaces and _ . : / = + - @';
  if (/^aws:/i.test(name)) return 'may not start with aws: (the prefix is reserved for AWS)';
  if (typeof value !== 'string') return 'must have a string value';
  if (value.length > MAX_VALUE) return `must have a value of at most ${MAX_VALUE} characters`;
  if (!ALLOWED.test(value)) {
    return 'must have a value of only letters, digits, spaces and _ . : / = + - @';
  }
  if (/^aws:/i.test(value)) {
    return 'may not have a value starting with aws: (the prefix is reserved for AWS)';
  }
  return undefined;
}

/** The tags of one stage: the global map, the stage's own over it, and the app's two. */
export function stageTags(
  stage: string,
  global: Record<string, string>,
  own: Record<string, string>,
  ownKey: string,
): Record<string, string> {
  const tags = { ...global, ...own, [STAGE_TAG_KEY]: stage, [SERVICE_TAG.key]: SERVICE_TAG.value };
  const count = Object.keys(tags).length;
  if (count > MAX_TAGS) {
    throw new ConfigError(
      `Invalid CDK context: tags and ${ownKey}: ${count} tags with stage and service, above AWS's ${MAX_TAGS} per resource`,
    );
  }
  return tags;
}
