import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { Template } from 'aws-cdk-lib/assertions';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { describe, expect, it } from 'vitest';
import { buildApp } from '#infra/build-app.ts';
import { readStages } from '#infra/stages.ts';

/**
 * The named stages of cdk.json: which stacks `cdk synth|deploy` makes, where they go, how they
 * are tagged, and the feature flags they are synthesized with.
 */

const CDK_JSON = JSON.parse(readFileSync('cdk.json', 'utf8')) as {
  context: Record<string, unknown>;
};

// Bundling the Lambdas takes seconds per stack and changes nothing asserted here.
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

/** The app as `npx cdk synth` builds it from the shipped cdk.json, with `-c` values on top. */
function appWith(commandLine: Record<string, unknown> = {}) {
  return buildApp(
    { context: { ...CDK_JSON.context, ...NO_BUNDLING, ...commandLine } },
    { cdkJsonContext: CDK_JSON.context },
  );
}

function messageOf(run: () => unknown): string {
  try {
    run();
    return 'no error';
  } catch (error) {
    return (error as Error).message;
  }
}

const contextOf =
  (values: Record<string, unknown>) =>
  (key: string): unknown =>
    values[key];

describe('stages', () => {
  it('-c stage=prod synthesizes the prod stack only: its account, region and termination protection', () => {
    const { app, stacks } = appWith({ stage: 'prod' });
    expect(stacks.map((s) => s.stackName)).toEqual(['Auth0CrmSync-prod']);
    const artifact = app.synth().getStackByName('Auth0CrmSync-prod');
    expect(artifact.environment).toMatchObject({ account: '444455556666', region: 'eu-west-1' });
    expect(artifact.terminationProtection).toBe(true);
  }, 60_000);

  it('without a stage every stage is synthesized, so `cdk deploy Auth0CrmSync-staging` finds its stack', () => {
    const { app, stacks } = appWith();
    expect(stacks.map((s) => s.stackName)).toEqual(['Auth0CrmSync-staging', 'Auth0CrmSync-prod']);
    const staging = app.synth().getStackByName('Auth0CrmSync-staging');
    expect(staging.environment).toMatchObject({ account: '111122223333', region: 'eu-west-1' });
    expect(staging.terminationProtection).toBe(false);
  }, 60_000);

  it('an unknown stage is refused with the names of the known ones', () => {
    expect(messageOf(() => appWith({ stage: 'qa' }))).toBe(
      'Invalid CDK context: stage: unknown stage "qa"; the stages are staging, prod',
    );
  });

  it("a stage's own values win over the top-level ones, and a -c value wins over both", () => {
    const context = {
      crmRatePerSecond: 10,
      stages: { staging: { account: '111122223333', region: 'eu-west-1', crmRatePerSecond: 2 } },
    };
    const [staging] = readStages(contextOf(context));
    expect(staging?.context('crmRatePerSecond')).toBe(2);
    expect(staging?.context('auth0WritesPerSecond')).toBeUndefined();
    const [fromCli] = readStages(contextOf(context), (key) => key === 'crmRatePerSecond');
    expect(fromCli?.context('crmRatePerSecond')).toBe(10);
  });

  it('the deployed settings follow the stage: staging keeps its logs 30 days, prod 90', () => {
    const { stacks } = appWith();
    const retention = stacks.map((stack) =>
      Object.values(Template.fromStack(stack).findResources('AWS::Logs::LogGroup')).map(
        (group) => group.Properties.RetentionInDays,
      ),
    );
    expect(new Set(retention[0])).toEqual(new Set([30]));
    expect(new Set(retention[1])).toEqual(new Set([90]));
  }, 60_000);

  it('a placeholder account is named, with its stage, by the rule that refuses the deploy', () => {
    const { stacks } = appWith({ stage: 'prod' });
    const rules = Template.fromStack(stacks[0] as never).toJSON().Rules;
    expect(rules.NoExampleValues.Assertions[0].AssertDescription).toMatch(/stages\.prod\.account/);
    const configured = appWith({
      stage: 'prod',
      auth0Domain: 'acme.eu.auth0.com',
      crmUrl: 'https://crm.acme.test/lookup',
      stages: {
        prod: { account: '210987654321', region: 'eu-west-1', alarmEmail: 'oncall@acme.test' },
      },
    });
    expect(
      Template.fromStack(configured.stacks[0] as never).toJSON().Rules.NoExampleValues,
    ).toBeUndefined();
  }, 60_000);

  it('without stages in the context the app is the one stack it was, named by stackName', () => {
    expect(readStages(contextOf({})).map((s) => [s.stackName, s.env])).toEqual([
      ['Auth0CrmSync', undefined],
    ]);
    expect(readStages(contextOf({ stackName: 'CrmSyncEu' }))[0]?.stackName).toBe('CrmSyncEu');
    expect(messageOf(() => readStages(contextOf({ stage: 'prod' })))).toMatch(
      /^Invalid CDK context: stage: "prod" was asked for, but cdk.json's context has no stages/,
    );
  });

  it.each([
    [
      { prod: { region: 'eu-west-1' } },
      /^Invalid CDK context: stages\.prod\.account: must be the 12-digit/,
    ],
    [
      { prod: { account: '444455556666', region: 'Ireland' } },
      /stages\.prod\.region: must be an AWS region/,
    ],
    [
      { prod: { account: '444455556666', region: 'eu-west-1', terminationProtection: 'yes' } },
      /stages\.prod\.terminationProtection: must be true or false/,
    ],
    [
      { prod: { account: '444455556666', region: 'eu-west-1', crmRatePerSec: 5 } },
      /stages\.prod\.crmRatePerSec: not a stage property .* the settings are auth0Domain, crmKind, crmUrl/,
    ],
    [
      { 'prod stage': { account: '444455556666', region: 'eu-west-1' } },
      /stages: "prod stage" is not a stage name/,
    ],
    [{ prod: 'eu-west-1' }, /^Invalid CDK context: stages\.prod: must be an object/],
  ])('refuses the stage block %j, naming the key', (stages, message) => {
    expect(messageOf(() => readStages(contextOf({ stages })))).toMatch(message);
  });

  it('a key the app does not read is refused, so a typo does not deploy the default', () => {
    expect(messageOf(() => appWith({ crmRatePerSec: '5' }))).toMatch(
      /^Invalid CDK context: crmRatePerSec: not a key the app reads; the keys are auth0Domain, crmKind, crmUrl, .*, stage, stages, tags, stackName$/,
    );
  });

  it('keys the CDK CLI writes itself (cdk acknowledge, cdk cli-telemetry) do not stop the synth', () => {
    expect(
      messageOf(() =>
        appWith({ 'acknowledged-issue-numbers': [32775], 'cli-telemetry': false, stage: 'prod' }),
      ),
    ).toBe('no error');
  });

  it('a top-level stackName names one stack: refused while several stages are synthesized', () => {
    const stages = CDK_JSON.context.stages;
    expect(messageOf(() => readStages(contextOf({ stages, stackName: 'Mine' })))).toMatch(
      /^Invalid CDK context: stackName: names one stack, but the stages staging, prod/,
    );
    expect(readStages(contextOf({ stages, stackName: 'Mine', stage: 'prod' }))[0]?.stackName).toBe(
      'Mine',
    );
  });
});

/** A resource's tags in the template, whichever of CloudFormation's two shapes it uses. */
function tagsOf(resource: { Properties?: Record<string, unknown> }): Record<string, string> {
  const properties = resource.Properties ?? {};
  const replicas = (properties.Replicas as Array<{ Tags?: unknown }> | undefined) ?? [];
  const tags = properties.Tags ?? replicas[0]?.Tags;
  if (Array.isArray(tags)) {
    return Object.fromEntries(tags.map((t: { Key: string; Value: string }) => [t.Key, t.Value]));
  }
  return (tags as Record<string, string> | undefined) ?? {};
}

describe('tags', () => {
  it('every taggable resource carries stage, service and the global and stage tags from cdk.json', () => {
    const { app, stacks } = appWith({ stage: 'prod' });
    const resources = Object.values(
      Template.fromStack(stacks[0] as never).toJSON().Resources,
    ) as Array<{
      Type: string;
      Properties?: Record<string, unknown>;
    }>;
    const expected = {
      stage: 'prod',
      service: 'auth0-crm-sync',
      'cost-center': 'identity',
      environment: 'production',
    };
    const tagged = resources.filter((r) => Object.keys(tagsOf(r)).length > 0);
    for (const resource of tagged) expect(tagsOf(resource)).toMatchObject(expected);
    // The resources a bill or an incident is read by: each one is among the tagged.
    const taggedTypes = new Set(tagged.map((r) => r.Type));
    for (const type of [
      'AWS::Lambda::Function',
      'AWS::DynamoDB::GlobalTable',
      'AWS::SQS::Queue',
      'AWS::Logs::LogGroup',
      'AWS::SecretsManager::Secret',
      'AWS::IAM::Role',
      'AWS::StepFunctions::StateMachine',
      'AWS::ApiGatewayV2::Api',
    ]) {
      expect(taggedTypes, type).toContain(type);
    }
    // And the stack itself, which CloudFormation copies onto what it creates.
    expect(app.synth().getStackByName('Auth0CrmSync-prod').tags).toMatchObject(expected);
  }, 60_000);

  it.each([
    [{ 'aws:team': 'x' }, /^Invalid CDK context: tags: tag "aws:team" may not start with aws:/],
    [{ ['k'.repeat(129)]: 'x' }, /tag "k+" must have 1 to 128 characters/],
    [{ team: 'v'.repeat(257) }, /tag "team" must have a value of at most 256 characters/],
    [
      { 'team#1': 'x' },
      /tag "team#1" may hold only letters, digits, spaces and _ \. : \/ = \+ - @/,
    ],
    [{ team: 42 }, /tag "team" must have a string value/],
    [{ stage: 'other' }, /tag "stage" is set by the app on every resource/],
    ['team=identity', /^Invalid CDK context: tags: must be an object of tag names to values/],
  ])('refuses the tags %j, naming the key', (tags, message) => {
    expect(messageOf(() => readStages(contextOf({ tags })))).toMatch(message);
  });

  it("names the stage's tags when they are the wrong ones", () => {
    const stages = {
      prod: { account: '444455556666', region: 'eu-west-1', tags: { 'AWS:x': 'y' } },
    };
    expect(messageOf(() => readStages(contextOf({ stages })))).toMatch(
      /^Invalid CDK context: stages\.prod\.tags: tag "AWS:x" may not start with aws:/,
    );
  });
});

describe('feature flags', () => {
  it('cdk.json sets every flag the installed aws-cdk-lib recommends, to the recommended value', () => {
    // CURRENTLY_RECOMMENDED_FLAGS is what `cdk init` writes for this library version; after an
    // upgrade this lists the new ones (`npx cdk flags --unstable=flags` shows what each does).
    const gap = Object.entries(cxapi.CURRENTLY_RECOMMENDED_FLAGS)
      .filter(([flag, value]) => !isDeepStrictEqual(CDK_JSON.context[flag], value))
      .map(([flag, value]) => `${flag}: ${JSON.stringify(value)}`);
    expect(gap).toEqual([]);
  });

  it('cdk.json sets no flag the library does not know (a typo, or one a new version removed)', () => {
    const unknown = Object.keys(CDK_JSON.context)
      .filter((key) => key.startsWith('@aws-cdk'))
      .filter((flag) => !(flag in cxapi.FLAGS));
    expect(unknown).toEqual([]);
  });
});
