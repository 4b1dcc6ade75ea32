import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import type { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '#infra/build-app.ts';
import { ControlTowerChecks, controlTowerSummary } from '#infra/control-tower.ts';

/**
 * AWS Control Tower's proactive controls at synth (infra/control-tower.ts): both profiles
 * synthesize with no finding open, the default acknowledges on each resource exactly what it
 * does not meet, and the governed profile meets everything but the route's authorization type.
 */

const CDK_JSON = JSON.parse(readFileSync('cdk.json', 'utf8')) as {
  context: Record<string, unknown>;
};
// The templates are the same without the Lambdas' code, which takes seconds per stack to bundle.
const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };
const IMPORTED_KEY = 'arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab';
/** Every optional part on: the Action installer (a fourth function) and a custom domain. */
const EVERYTHING = {
  installAction: true,
  auth0CredentialsSecretArn:
    'arn:aws:secretsmanager:eu-west-1:444455556666:secret:auth0-crm-sync/auth0-AbCdEf',
  domainName: 'sync.acme.test',
  certificateArn:
    'arn:aws:acm:eu-west-1:444455556666:certificate/12345678-1234-1234-1234-123456789012',
  stage: 'prod',
};

interface Reported {
  readonly ruleName: string;
  readonly reason?: string;
  readonly violatingConstructs: readonly { readonly constructPath: string }[];
}

/** The app as `npx cdk synth` builds it from the shipped cdk.json, with `-c` values on top. */
function synthesize(commandLine: Record<string, unknown>, context = CDK_JSON.context) {
  const { app } = buildApp({ context: { ...context, ...NO_BUNDLING, ...commandLine } });
  const assembly = app.synth();
  const reportText = readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8');
  const controls = (
    JSON.parse(reportText) as {
      pluginReports: { pluginName: string; conclusion: string; violations: Reported[] }[];
    }
  ).pluginReports.find((part) => part.pluginName === 'ControlTower') as {
    conclusion: string;
    violations: Reported[];
    suppressedViolations?: Reported[];
  };
  return { app, assembly, reportText, controls, acknowledged: controls.suppressedViolations ?? [] };
}

/** Control id → the construct paths it is acknowledged on, within one stack. */
function acknowledgedIn(acknowledged: readonly Reported[], stack: string) {
  const byControl: Record<string, string[]> = {};
  for (const { ruleName, violatingConstructs } of acknowledged) {
    for (const { constructPath } of violatingConstructs) {
      if (!constructPath.startsWith(`${stack}/`)) continue;
      const paths = byControl[ruleName] ?? [];
      paths.push(constructPath.slice(stack.length + 1));
      byControl[ruleName] = paths;
    }
  }
  for (const paths of Object.values(byControl)) paths.sort();
  return byControl;
}

const templateOf = (app: App, stack: string) =>
  Template.fromJSON(app.synth().getStackByName(stack).template);

describe('the default profile', () => {
  const { app, controls, acknowledged, reportText } = synthesize({});

  it('has no open finding, and acknowledges exactly the controls the README says it does not meet', () => {
    expect(controls.conclusion).toBe('success');
    expect(controls.violations).toEqual([]);
    const logGroups = [
      'Backfill/OrchestratorLogs/Resource',
      'Backfill/RunLogs/Resource',
      'Backfill/WorkerLogs/Resource',
      'CrmEvents/CrmEventsFunctionLogs/Resource',
      'SyncApi/AccessLogs/Resource',
      'SyncApi/SyncFunctionLogs/Resource',
    ];
    expect(acknowledgedIn(acknowledged, 'Auth0CrmSync-prod')).toEqual({
      'CT.APIGATEWAY.PR.5': [
        'SyncApi/Api/ANY--v1--crm-events/Resource',
        'SyncApi/Api/DefaultRoute/Resource',
      ],
      'CT.CLOUDWATCH.PR.2': logGroups,
      'CT.CLOUDWATCH.PR.3': logGroups,
      'CT.LAMBDA.PR.3': [
        'Backfill/Orchestrator/Resource',
        'Backfill/Worker/Resource',
        'CrmEvents/CrmEventsFunction/Resource',
        'SyncApi/SyncFunction/Resource',
      ],
    });
    for (const { ruleName, reason } of acknowledged) {
      expect(reason, ruleName).toMatch(/\w{3,}.*\w{3,}/);
    }
    expect(controlTowerSummary(reportText)).toBe(
      'Control Tower proactive controls: none open; acknowledged: CT.APIGATEWAY.PR.5 ×4, CT.CLOUDWATCH.PR.2 ×12, CT.CLOUDWATCH.PR.3 ×12, CT.LAMBDA.PR.3 ×8',
    );
  });

  it('meets CT.SQS.PR.1 and CT.LAMBDA.PR.2 instead of acknowledging them: the DLQ says it is one, the permission names the account', () => {
    const template = templateOf(app, 'Auth0CrmSync-prod');
    const queues = Object.values(template.findResources('AWS::SQS::Queue'));
    expect(queues.map((queue) => queue.Properties.RedriveAllowPolicy ?? 'redrive')).toEqual(
      expect.arrayContaining([{ redrivePermission: 'allowAll' }, 'redrive']),
    );
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'apigateway.amazonaws.com',
      SourceAccount: '444455556666',
    });
  });

  it('keeps the log groups as configured and the functions out of any VPC', () => {
    const template = templateOf(app, 'Auth0CrmSync-staging');
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBe(30);
      expect(group.Properties.KmsKeyId).toBeUndefined();
    }
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.VpcConfig).toBeUndefined();
    }
    template.resourceCountIs('AWS::KMS::Key', 0);
  });
});

describe('the governed profile (-c governed=true, nothing else)', () => {
  const { app, controls, acknowledged, reportText } = synthesize({ governed: 'true' });
  const template = templateOf(app, 'Auth0CrmSync-prod');

  it('synthesizes offline with no open finding; only the routes are acknowledged', () => {
    expect(controls.conclusion).toBe('success');
    expect(controls.violations).toEqual([]);
    expect(acknowledgedIn(acknowledged, 'Auth0CrmSync-prod')).toEqual({
      'CT.APIGATEWAY.PR.5': [
        'SyncApi/Api/ANY--v1--crm-events/Resource',
        'SyncApi/Api/DefaultRoute/Resource',
      ],
    });
    expect(controlTowerSummary(reportText)).toBe(
      'Control Tower proactive controls: none open; acknowledged: CT.APIGATEWAY.PR.5 ×4',
    );
  });

  it("encrypts every log group with the stack's key and keeps it a year, the staging stage's 30 days raised", () => {
    Annotations.fromStack(app.node.findChild('Auth0CrmSync-staging') as Stack).hasWarning(
      '/Auth0CrmSync-staging/Governance',
      Match.stringLikeRegexp('logRetentionDays 30 is raised to 365 days'),
    );
    const keys = template.findResources('AWS::KMS::Key');
    const [keyId] = Object.keys(keys);
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
      expect(group.Properties.RetentionInDays).toBe(365);
      expect(group.DeletionPolicy).toBe('Retain');
    }
    const staging = templateOf(app, 'Auth0CrmSync-staging');
    for (const group of Object.values(staging.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.RetentionInDays).toBe(365);
    }
  });

  it('gives the key a policy that lets CloudWatch Logs use it for this account and region only, and keeps it', () => {
    const [key] = Object.values(template.findResources('AWS::KMS::Key'));
    expect(key?.DeletionPolicy).toBe('Retain');
    expect(key?.Properties.EnableKeyRotation).toBe(true);
    expect(key?.Properties.KeyPolicy.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'logs.eu-west-1.amazonaws.com' },
          Condition: {
            ArnLike: {
              'kms:EncryptionContext:aws:logs:arn':
                'arn:aws:logs:eu-west-1:444455556666:log-group:*',
            },
          },
        }),
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'kms:CreateGrant',
          Condition: {
            BoolIfExists: {
              'kms:GrantIsForAWSResource': 'false',
              'aws:PrincipalIsAWSService': 'false',
            },
          },
        }),
      ]),
    );
  });

  it('places every function in the VPC, after a network-interface policy its own code may not use', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(4);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.VpcConfig).toEqual({
        SubnetIds: ['subnet-0123456789abcdef0', 'subnet-0123456789abcdef1'],
        SecurityGroupIds: ['sg-0123456789abcdef0'],
      });
      const policyId = (fn.DependsOn as string[]).find((id) => id.includes('NetworkInterfaces'));
      const policy = template.toJSON().Resources[policyId as string];
      const [allow, deny] = policy.Properties.PolicyDocument.Statement;
      expect(allow).toMatchObject({ Effect: 'Allow', Resource: '*' });
      expect(allow.Action).toContain('ec2:CreateNetworkInterface');
      expect(deny).toMatchObject({
        Effect: 'Deny',
        Action: allow.Action,
        Condition: {
          ArnLike: {
            'lambda:SourceFunctionArn': 'arn:aws:lambda:eu-west-1:444455556666:function:*',
          },
        },
      });
      expect(policy.Properties.Roles).toEqual([{ Ref: fn.Properties.Role['Fn::GetAtt'][0] }]);
    }
  });

  it('refuses the deploy while the example network of cdk.json is set', () => {
    const rule = template.toJSON().Rules.NoExampleValues;
    expect(JSON.stringify(rule)).toContain('vpcSubnetIds, vpcSecurityGroupIds');
  });
});

describe('the governed profile with everything on', () => {
  it('an imported key, the Action installer and a custom domain: five functions in the VPC, nothing open', () => {
    const { app, controls, acknowledged } = synthesize({
      governed: true,
      logsKmsKeyArn: IMPORTED_KEY,
      ...EVERYTHING,
    });
    expect(controls.violations).toEqual([]);
    expect(Object.keys(acknowledgedIn(acknowledged, 'Auth0CrmSync-prod'))).toEqual([
      'CT.APIGATEWAY.PR.5',
    ]);
    const template = templateOf(app, 'Auth0CrmSync-prod');
    template.resourceCountIs('AWS::KMS::Key', 0);
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.Properties.KmsKeyId).toBe(IMPORTED_KEY);
    }
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(5);
    for (const fn of functions) expect(fn.Properties.VpcConfig).toBeDefined();
  });

  it('an environment-agnostic stack (no stages): the account is a token synth cannot read, so CT.LAMBDA.PR.2 is acknowledged with why', () => {
    const { stages: _stages, ...withoutStages } = CDK_JSON.context;
    const { controls, acknowledged } = synthesize({ governed: true }, withoutStages);
    expect(controls.violations).toEqual([]);
    const permission = acknowledged.find(({ ruleName }) => ruleName === 'CT.LAMBDA.PR.2');
    expect(permission?.violatingConstructs.map((c) => c.constructPath)).toEqual([
      'Auth0CrmSync/SyncApi/Api/DefaultRoute/Sync-Permission',
    ]);
    expect(permission?.reason).toContain('environment-agnostic');
  });
});

describe('one stage governed', () => {
  const network = {
    vpcSubnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-1a2b3c4d'],
    vpcSecurityGroupIds: ['sg-0f1e2d3c4b5a69788'],
  };
  const stages = CDK_JSON.context.stages as Record<string, Record<string, unknown>>;

  it('the network at the top level serves the governed stage; the other stage leaves it alone', () => {
    const { app, controls } = synthesize({
      ...network,
      stages: { ...stages, prod: { ...stages.prod, governed: true } },
    });
    expect(controls.violations).toEqual([]);
    const vpcOf = (stack: string) =>
      Object.values(templateOf(app, stack).findResources('AWS::Lambda::Function')).map(
        (fn) => fn.Properties.VpcConfig?.SubnetIds,
      );
    expect(vpcOf('Auth0CrmSync-prod')).toEqual(Array(4).fill(network.vpcSubnetIds));
    expect(vpcOf('Auth0CrmSync-staging')).toEqual(Array(4).fill(undefined));
  });

  it('-c stage=staging, the stage that is not governed, still synthesizes beside a governed prod', () => {
    const { app } = synthesize({
      ...network,
      stages: { ...stages, prod: { ...stages.prod, governed: true } },
      stage: 'staging',
    });
    const functions = templateOf(app, 'Auth0CrmSync-staging').findResources(
      'AWS::Lambda::Function',
    );
    for (const fn of Object.values(functions)) expect(fn.Properties.VpcConfig).toBeUndefined();
  });

  it('a network in the block of a stage that is not governed is refused, even beside a governed one', () => {
    expect(() =>
      synthesize({
        stages: {
          staging: { ...stages.staging, ...network },
          prod: { ...stages.prod, governed: true, ...network },
        },
      }),
    ).toThrow(
      /^Invalid CDK context of stage staging: vpcSubnetIds and vpcSecurityGroupIds: read only with governed=true/,
    );
  });

  it('governed stages without a network are told so, not left to the VPC control', () => {
    expect(() => synthesize({ governed: true, vpcSubnetIds: [], vpcSecurityGroupIds: [] })).toThrow(
      'Invalid CDK context of stage staging: governed=true places the functions in a VPC (CT.LAMBDA.PR.3): set vpcSubnetIds and vpcSecurityGroupIds',
    );
  });

  it('with no stage governed, a real network is refused, naming where governed goes', () => {
    expect(() => synthesize(network)).toThrow(
      'Invalid CDK context of stage staging: vpcSubnetIds and vpcSecurityGroupIds: read only with governed=true (KMS-encrypted logs, the functions in a VPC); set governed=true, in cdk.json or in the block of the stage they are for, or remove them',
    );
  });
});

describe('which rules run', () => {
  const findings = (report: {
    violations: readonly {
      description: string;
      violatingResources: readonly { resourceLogicalId?: string }[];
    }[];
  }) =>
    report.violations
      .flatMap((v) =>
        v.violatingResources.map((r) => `${v.description.slice(0, 20)} ${r.resourceLogicalId}`),
      )
      .sort();

  // The plugins report before aws-cdk-lib applies the acknowledgements: the default profile's
  // templates have four controls' worth of findings, the governed profile's one (the route).
  it.each([
    ['default', {}, 28],
    ['governed, with the installer and a custom domain', { governed: true, ...EVERYTHING }, 1],
  ])(
    'the rules picked by resource type find what all 237 find (%s)',
    (_, commandLine, least) => {
      const { assembly } = synthesize(commandLine);
      const templatePaths = assembly.stacks.map((stack) =>
        join(assembly.directory, stack.templateFile),
      );
      const context = { templatePaths, stackTemplates: [], appConstruct: undefined as never };
      const picked = findings(new ControlTowerChecks().validate(context));
      expect(picked.length).toBeGreaterThanOrEqual(least);
      expect(picked).toEqual(findings(new CfnGuardValidator().validate(context)));
    },
    60_000,
  );
});
