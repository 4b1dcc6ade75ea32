import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readStackConfig, type StageIdentity } from '#infra/config.ts';

/**
 * Every CDK context value is checked at `cdk synth`, in the form cdk.json gives it and in the
 * string form `-c key=value` gives it; a wrong one stops synth with a message naming the key
 * and saying what it accepts, never with a stack trace.
 */

const DEPLOYABLE = { auth0Domain: 'acme.eu.auth0.com', crmUrl: 'https://crm.acme.test/lookup' };

function messageOf(context: Record<string, unknown>, stage?: StageIdentity): string {
  try {
    const values: Record<string, unknown> = { ...DEPLOYABLE, ...context };
    readStackConfig((key) => values[key], stage);
    return 'no error';
  } catch (error) {
    return (error as Error).message;
  }
}

const configOf = (context: Record<string, unknown>) => {
  const values: Record<string, unknown> = { ...DEPLOYABLE, ...context };
  return readStackConfig((key) => values[key]);
};

describe('values as -c gives them (strings)', () => {
  it('accepts numbers and booleans written as -c strings, with their JSON meaning', () => {
    const config = configOf({
      apiRateLimit: '250',
      backfillMaxConcurrency: '4',
      installAction: 'false',
      backfillEnabled: 'false',
      accessTokenClaims: 'true',
      logRetentionDays: '1096',
      claimMap: '{"crm_id":"id","tier":"tier"}',
    });
    expect(config).toMatchObject({
      apiRateLimit: 250,
      backfillMaxConcurrency: 4,
      installAction: false,
      backfillEnabled: false,
      accessTokenClaims: true,
      logRetentionDays: 1096,
      claimMap: { crm_id: 'id', tier: 'tier' },
    });
  });

  it.each([
    // JSON.parse crashed on both before, with its own stack trace.
    [{ claimMap: 'nope' }, 'claimMap: must be a JSON object of strings'],
    [{ claimMap: '{bad' }, 'claimMap: must be a JSON object of strings'],
    [{ claimMap: '["id"]' }, 'claimMap: must be a JSON object of strings'],
    [{ claimMap: { crm_id: 1 } }, 'claimMap: must be a JSON object of strings'],
    [{ installAction: 'yes' }, 'installAction: must be true or false'],
    [{ backfillEnabled: 'TRUE' }, 'backfillEnabled: must be true or false'],
    [{ accessTokenClaims: 1 }, 'accessTokenClaims: must be true or false'],
    [{ apiRateLimit: 'ten' }, 'apiRateLimit: must be a whole number from 1 to 10000'],
    // Number('') is 0 and Number(true) is 1: neither may pass as a rate.
    [{ apiRateLimit: '' }, 'apiRateLimit: must be a whole number from 1 to 10000'],
    [{ crmRatePerSecond: true }, 'crmRatePerSecond: must be a whole number from 1 to 10000'],
    [{ crmTimeoutMs: '1e3' }, 'crmTimeoutMs: must be a whole number from 1 to 10000'],
    [{ syncMaxConcurrency: '2.5' }, 'syncMaxConcurrency: must be a whole number from 1 to 10000'],
  ])('refuses %j, naming the key', (context, message) => {
    expect(messageOf(context)).toContain(`Invalid CDK context: ${message}`);
  });
});

describe('values AWS would refuse at deploy', () => {
  it('backfillMaxConcurrency below 2: the SQS event source takes 2 at least', () => {
    expect(messageOf({ backfillMaxConcurrency: 1 })).toBe(
      'Invalid CDK context: backfillMaxConcurrency: must be a whole number from 2 to 100',
    );
    expect(messageOf({ backfillMaxConcurrency: 2 })).toBe('no error');
  });

  it('logRetentionDays outside the periods CloudWatch Logs accepts', () => {
    expect(messageOf({ logRetentionDays: 42 })).toMatch(
      /^Invalid CDK context: logRetentionDays: must be one of 1, 3, 5, .*, 1096, .*, 3653 \(the retention periods CloudWatch Logs accepts\)$/,
    );
    for (const days of [1, 400, 3653])
      expect(messageOf({ logRetentionDays: days })).toBe('no error');
  });

  it.each([
    'cron(0 3 * * ? *)',
    'cron(0/15 8-17 ? * MON-FRI *)',
    'cron(30 2 ? * 6L 2027-2030)',
    'cron(0 0 L * ? *)',
    'cron(0 9 15W * ? *)',
    'cron(0 9 ? * 2#1 *)',
    'cron(0 12 1,15 JAN,JUL ? *)',
    'rate(1 hour)',
    'rate(5 minutes)',
    'rate(2 days)',
    'at(2027-01-31T03:00:00)',
  ])('accepts the schedule %s', (backfillSchedule) => {
    expect(messageOf({ backfillSchedule })).toBe('no error');
  });

  it.each([
    [
      'cron(0 3 * * *)',
      'has 5 fields; it needs 6: minutes hours day-of-month month day-of-week year',
    ],
    ['cron(0 3 * * * *)', 'exactly one of day-of-month and day-of-week must be ?'],
    ['cron(0 3 ? * ? *)', 'exactly one of day-of-month and day-of-week must be ?'],
    ['cron(60 3 * * ? *)', 'minutes "60" takes 0-59'],
    ['cron(0 24 * * ? *)', 'hours "24" takes 0-23'],
    ['cron(0 3 32 * ? *)', 'day-of-month "32" takes 1-31'],
    ['cron(0 3 * 13 ? *)', 'month "13" takes 1-12 or JAN-DEC'],
    ['cron(0 3 ? * 8 *)', 'day-of-week "8" takes 1-7 or SUN-SAT'],
    ['cron(0 3 ? * 2#1,3#2 *)', 'day-of-week "2#1,3#2" with # takes a single expression'],
    ['cron(0 3 * * ? 1969)', 'year "1969" takes 1970-2199'],
    ['cron(0 ? * * ? *)', 'hours "?" takes 0-23'],
    ['rate(1 hours)', 'rate(1 hours) must be written rate(1 hour)'],
    ['rate(5 minute)', 'rate(5 minute) must be written rate(5 minutes)'],
    ['rate(0 minutes)', 'rate(0 minutes) is not rate(<positive whole number>'],
    ['rate(1 week)', 'rate(1 week) is not rate('],
    [
      'at(2027-02-30T03:00:00)',
      'at(2027-02-30T03:00:00) is not at(yyyy-mm-ddThh:mm:ss) with a real date',
    ],
    ['at(2027-01-31 03:00)', 'is not at(yyyy-mm-ddThh:mm:ss)'],
    ['every day', '"every day" is not cron(…), rate(…) or at(…)'],
  ])('refuses the schedule %s, saying which part is wrong', (backfillSchedule, problem) => {
    const message = messageOf({ backfillSchedule });
    expect(message).toMatch(/^Invalid CDK context: backfillSchedule: /);
    expect(message).toContain(problem);
  });

  it.each([
    ['Mars/Olympus', '"Mars/Olympus" is not an IANA time zone, e.g. Europe/Paris or UTC'],
    ['europe/paris', '"europe/paris" must be written Europe/Paris'],
  ])('refuses the time zone %s for the schedule and the sync day', (zone, problem) => {
    expect(messageOf({ backfillScheduleTimeZone: zone })).toBe(
      `Invalid CDK context: backfillScheduleTimeZone: ${problem}`,
    );
    expect(messageOf({ syncTimeZone: zone })).toBe(`Invalid CDK context: syncTimeZone: ${problem}`);
    expect(messageOf({ backfillScheduleTimeZone: 'America/New_York' })).toBe('no error');
  });
});

describe('the custom domain and the allowed networks', () => {
  const certificate = (region: string) =>
    `arn:aws:acm:${region}:210987654321:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d`;
  const prod: StageIdentity = { name: 'prod', account: '210987654321', region: 'eu-west-1' };

  it('accepts a DNS name with a certificate of the stage region', () => {
    const domain = { domainName: 'sync.acme.com', certificateArn: certificate('eu-west-1') };
    expect(messageOf(domain, prod)).toBe('no error');
  });

  it.each([
    [{ domainName: 'sync acme' }, 'domainName: "sync acme" is not a DNS name'],
    [{ domainName: 'sync.acme.com.' }, 'domainName: "sync.acme.com." is not a DNS name'],
    [{ domainName: '*.acme.com' }, 'domainName: "*.acme.com" is not a DNS name'],
    [{ domainName: '-sync.acme.com' }, 'domainName: "-sync.acme.com" is not a DNS name'],
    [
      { certificateArn: 'arn:aws:iam::210987654321:server-certificate/x' },
      'certificateArn: must be an ACM certificate ARN',
    ],
    [
      { domainName: 'sync.acme.com' },
      'domainName and certificateArn: set both or neither (domainName is set alone)',
    ],
    [
      { certificateArn: certificate('eu-west-1') },
      'domainName and certificateArn: set both or neither (certificateArn is set alone)',
    ],
  ])('refuses %j, naming the key', (context, message) => {
    expect(messageOf(context, prod)).toContain(`Invalid CDK context of stage prod: ${message}`);
  });

  it("refuses a certificate from another region than the stage's", () => {
    const domain = { domainName: 'sync.acme.com', certificateArn: certificate('us-east-1') };
    expect(messageOf(domain, prod)).toBe(
      'Invalid CDK context of stage prod: certificateArn: the certificate is in us-east-1 but the stack deploys to eu-west-1; a regional API domain needs a certificate of eu-west-1 (request or import it there)',
    );
    // Without stages the region is the CLI's, unknown at synth.
    expect(messageOf(domain)).toBe('no error');
  });

  it('checks allowedSourceIps as the service will at start, naming the entry', () => {
    expect(messageOf({ allowedSourceIps: '10.0.0.0/8, auth0:eu' })).toBe('no error');
    expect(messageOf({ allowedSourceIps: '10.0.0.5/8' })).toMatch(
      /^Invalid CDK context: allowedSourceIps: "10.0.0.5\/8" has bits set past its \/8 prefix/,
    );
    expect(messageOf({ allowedSourceIps: 'auth0:mars' })).toMatch(
      /^Invalid CDK context: allowedSourceIps: "auth0:mars" is not an Auth0 region: known regions are auth0:/,
    );
    // Empty counts as unset, as for ALLOWED_SOURCE_IPS itself.
    expect(configOf({ allowedSourceIps: '' }).allowedSourceIps).toBeUndefined();
  });
});

describe('what `npx cdk synth` prints for a wrong value', () => {
  it('the message naming the key, exit 1, and no stack frames', async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
    try {
      const synth = promisify(execFile)(
        'npx',
        ['cdk', 'synth', '--quiet', '--no-notices', '-o', outdir, '-c', 'claimMap=nope'],
        { cwd: process.cwd(), env: { ...process.env, CI: 'true' } },
      );
      const failure = await synth.then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure?.code).toBe(1);
      expect(failure?.stderr).toContain(
        'Invalid CDK context of stage staging: claimMap: must be a JSON object of strings',
      );
      expect(failure?.stderr).not.toMatch(/^\s+at /m);
      expect(failure?.stderr).not.toMatch(/ConfigError|SyntaxError/);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 30_000);
});
