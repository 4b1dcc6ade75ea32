import { describe, expect, it } from 'vitest';
import { EXAMPLE_NETWORK, exampleSettings, readStackConfig } from '#infra/config.ts';

/**
 * The settings of the governed profile (README, "Governed organizations"): checked at synth as
 * every other CDK context value, in cdk.json's JSON form and in the string form of `-c`.
 */

const DEPLOYABLE = { auth0Domain: 'acme.eu.auth0.com', crmUrl: 'https://crm.acme.test/lookup' };
const NETWORK = {
  vpcSubnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-1a2b3c4d'],
  vpcSecurityGroupIds: ['sg-0f1e2d3c4b5a69788'],
};

const configOf = (context: Record<string, unknown>) => {
  const values: Record<string, unknown> = { ...DEPLOYABLE, ...context };
  return readStackConfig((key) => values[key]);
};

function messageOf(context: Record<string, unknown>): string {
  try {
    configOf(context);
    return 'no error';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('governed', () => {
  it('is off unless asked for, and takes true/false as cdk.json and -c give it', () => {
    expect(configOf({}).governed).toBe(false);
    expect(configOf({ governed: 'true', ...NETWORK }).governed).toBe(true);
    expect(messageOf({ governed: 'yes' })).toBe(
      'Invalid CDK context: governed: must be true or false',
    );
  });

  it('needs the VPC: subnets and security groups both', () => {
    const needs =
      'Invalid CDK context: governed=true places the functions in a VPC (CT.LAMBDA.PR.3): set vpcSubnetIds and vpcSecurityGroupIds';
    expect(messageOf({ governed: true })).toContain(needs);
    expect(messageOf({ governed: true, vpcSubnetIds: NETWORK.vpcSubnetIds })).toContain(needs);
    expect(messageOf({ governed: true, vpcSecurityGroupIds: ['sg-0f1e2d3c'] })).toContain(needs);
    expect(messageOf({ governed: true, ...NETWORK })).toBe('no error');
  });

  it('reads the id lists from -c as comma-separated text', () => {
    const config = configOf({
      governed: 'true',
      vpcSubnetIds: 'subnet-0a1b2c3d4e5f60718, subnet-1a2b3c4d',
      vpcSecurityGroupIds: 'sg-0f1e2d3c4b5a69788',
    });
    expect(config.vpcSubnetIds).toEqual(NETWORK.vpcSubnetIds);
    expect(config.vpcSecurityGroupIds).toEqual(NETWORK.vpcSecurityGroupIds);
  });

  it.each([
    [
      { vpcSubnetIds: ['subnet-xyz'] },
      'vpcSubnetIds: "subnet-xyz" is not one of the subnet ids, e.g. subnet-0123456789abcdef0',
    ],
    [{ vpcSubnetIds: 'subnet-1a2b3c4d,vpc-1a2b3c4d' }, 'vpcSubnetIds: "vpc-1a2b3c4d" is not'],
    [
      { vpcSubnetIds: 'subnet-1a2b3c4d,subnet-1a2b3c4d' },
      'vpcSubnetIds: "subnet-1a2b3c4d" is given twice',
    ],
    [
      { vpcSecurityGroupIds: 'sg-1' },
      'vpcSecurityGroupIds: "sg-1" is not one of the security group ids',
    ],
    [{ vpcSecurityGroupIds: 42 }, 'vpcSecurityGroupIds: must be a list of security group ids'],
    [{ logsKmsKeyArn: 'alias/logs' }, 'logsKmsKeyArn: must be a KMS key ARN'],
    [
      { logsKmsKeyArn: 'arn:aws:kms:eu-west-1:444455556666:alias/logs' },
      'logsKmsKeyArn: must be a KMS key ARN',
    ],
  ])('refuses %j, naming the key', (context, message) => {
    expect(messageOf({ governed: true, ...NETWORK, ...context })).toContain(
      `Invalid CDK context: ${message}`,
    );
  });

  it('takes a key ARN, single- or multi-Region', () => {
    for (const logsKmsKeyArn of [
      'arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'arn:aws:kms:eu-west-1:444455556666:key/mrk-1234abcd12ab34cd56ef1234567890ab',
    ]) {
      expect(messageOf({ governed: true, ...NETWORK, logsKmsKeyArn })).toBe('no error');
    }
  });
});

describe('the governed settings without governed=true', () => {
  it('are refused rather than silently ignored', () => {
    expect(messageOf(NETWORK)).toBe(
      'Invalid CDK context: vpcSubnetIds and vpcSecurityGroupIds: read only with governed=true (KMS-encrypted logs, the functions in a VPC); set governed=true, in cdk.json or in the block of the stage they are for, or remove them',
    );
    expect(
      messageOf({
        logsKmsKeyArn:
          'arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      }),
    ).toMatch(/^Invalid CDK context: logsKmsKeyArn: read only with governed=true/);
  });

  it("except cdk.json's example network, which stays unused until governed is on", () => {
    expect(messageOf({ ...EXAMPLE_NETWORK })).toBe('no error');
    // A real id mixed into the examples is someone's setting: refused.
    expect(
      messageOf({ vpcSubnetIds: [...EXAMPLE_NETWORK.vpcSubnetIds, 'subnet-1a2b3c4d'] }),
    ).toMatch(/^Invalid CDK context: vpcSubnetIds: read only with governed=true/);
  });
});

describe('example values', () => {
  it('the example network counts as an example (refused at deploy) only when governed', () => {
    expect(exampleSettings(configOf({ ...EXAMPLE_NETWORK }))).toEqual([]);
    expect(exampleSettings(configOf({ governed: true, ...EXAMPLE_NETWORK }))).toEqual([
      'vpcSubnetIds',
      'vpcSecurityGroupIds',
    ]);
    expect(exampleSettings(configOf({ governed: true, ...NETWORK }))).toEqual([]);
  });
});
