import * as z from 'zod/mini';
import {
  int,
  loadStampReadConfig,
  optionalText,
  parseSettings,
  type SecretSetting,
  type StampReadConfig,
  secretSetting,
} from './config.ts';

/** The settings of POST /v1/crm-events (its Lambda's environment; the README lists them). */
export interface CrmEventsConfig extends StampReadConfig {
  /** CRM_WEBHOOK_SECRET: the CRM's signing key, comma-separated (current first) in a rotation. */
  readonly webhookSecret: SecretSetting;
  readonly matchKeyHashSecret: SecretSetting;
  /** Where affected users go for a profile re-sync; none locally (only stamps are marked). */
  readonly queueUrl: string | undefined;
  /**
   * How long a queued re-sync waits (SQS DelaySeconds): a login that was asking the CRM as the
   * event came may still write its older answer to the profile for a few seconds (the Action's
   * write lands as the login ends, within Auth0's 20 s); the re-sync comes after it.
   */
  readonly resyncDelaySeconds: number;
  readonly secretsMaxAgeSeconds: number;
}

const environment = z
  .object({
    CRM_WEBHOOK_SECRET: optionalText,
    CRM_WEBHOOK_SECRET_ARN: optionalText,
    MATCH_KEY_HASH_SECRET: optionalText,
    MATCH_KEY_HASH_SECRET_ARN: optionalText,
    RESYNC_QUEUE_URL: optionalText,
    CRM_EVENT_RESYNC_DELAY_SECONDS: int(0, 900, 30),
    SECRETS_MAX_AGE_SECONDS: int(0, 86_400, 300),
  })
  .check(
    z.refine((env) => Boolean(env.CRM_WEBHOOK_SECRET || env.CRM_WEBHOOK_SECRET_ARN), {
      path: ['CRM_WEBHOOK_SECRET'],
      error: 'set CRM_WEBHOOK_SECRET or CRM_WEBHOOK_SECRET_ARN',
    }),
    z.refine((env) => Boolean(env.MATCH_KEY_HASH_SECRET || env.MATCH_KEY_HASH_SECRET_ARN), {
      path: ['MATCH_KEY_HASH_SECRET'],
      error: 'set MATCH_KEY_HASH_SECRET or MATCH_KEY_HASH_SECRET_ARN',
    }),
  );

/** Parses the CRM events function's settings once, at start; the message names every wrong one. */
export function loadCrmEventsConfig(
  env: Readonly<Record<string, string | undefined>>,
): CrmEventsConfig {
  const stamps = loadStampReadConfig(env);
  const e = parseSettings(environment, env, 'configuration');
  return {
    ...stamps,
    webhookSecret: secretSetting(e.CRM_WEBHOOK_SECRET, e.CRM_WEBHOOK_SECRET_ARN),
    matchKeyHashSecret: secretSetting(e.MATCH_KEY_HASH_SECRET, e.MATCH_KEY_HASH_SECRET_ARN),
    queueUrl: e.RESYNC_QUEUE_URL,
    resyncDelaySeconds: e.CRM_EVENT_RESYNC_DELAY_SECONDS,
    secretsMaxAgeSeconds: e.SECRETS_MAX_AGE_SECONDS,
  };
}
