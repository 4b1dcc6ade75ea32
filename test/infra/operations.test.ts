import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEPLOYABLE, onlyResource, synth, synthStacks } from './synth-stack.ts';

/**
 * What an on-call engineer is handed by the stack: alarms that say what to do, saved log
 * queries, the backfill's pause/resume/stop controls, a guard against two runs at once, and the
 * custom domain.
 */

const EXISTING_AUTH0_SECRET =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:auth0-crm-sync/auth0-AbC123';
const OPERATED = {
  ...DEPLOYABLE,
  // As `-c key=value` passes them: strings.
  backfillEnabled: 'false',
  allowedSourceIps: 'auth0:eu,203.0.113.0/24',
  domainName: 'sync.acme.test',
  certificateArn:
    'arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b',
  installAction: true,
  auth0CredentialsSecretArn: EXISTING_AUTH0_SECRET,
};

let plain: Template;
let operated: Template;
beforeAll(() => {
  plain = synth(DEPLOYABLE);
  operated = synth(OPERATED);
}, 60_000);

const alarm = (template: Template, idPrefix: string) => {
  const found = Object.entries(template.findResources('AWS::CloudWatch::Alarm')).filter(([id]) =>
    id.startsWith(`Monitoring${idPrefix}`),
  );
  expect(found, idPrefix).toHaveLength(1);
  return found[0]?.[1].Properties;
};

const logicalIdOf = (template: Template, type: string) =>
  Object.keys(template.findResources(type))[0] as string;

describe('alarms for the on-call', () => {
  it('pages when 20% of sync requests over 10 minutes are refused invalid_signature, with a floor of 10 requests', () => {
    const rate = alarm(plain, 'InvalidSignatureRate');
    expect(rate.Threshold).toBe(20);
    expect(rate.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    expect(rate.EvaluationPeriods).toBe(1);
    const metrics: Array<{ Id: string; Expression?: string; MetricStat?: unknown }> = rate.Metrics;
    expect(metrics.find((m) => m.Expression)?.Expression).toBe(
      'IF(requests >= 10, 100 * invalid / requests, 0)',
    );
    expect(metrics.find((m) => m.Id === 'invalid')?.MetricStat).toMatchObject({
      Metric: {
        Namespace: 'Auth0CrmSync/CrmSyncTest',
        MetricName: 'Requests',
        Dimensions: [{ Name: 'Outcome', Value: 'invalid_signature' }],
      },
      Period: 600,
      Stat: 'Sum',
    });
    // The sync function's requests only: CRM events on the same API must not dilute the share.
    expect(metrics.find((m) => m.Id === 'requests')?.MetricStat).toMatchObject({
      Metric: { Namespace: 'AWS/Lambda', MetricName: 'Invocations' },
      Period: 600,
    });
    // It says what happens (fail open, silently) and what to do.
    expect(rate.AlarmDescription).toMatch(/WITHOUT CRM data \(fail open\)/);
    expect(rate.AlarmDescription).toMatch(/ReadSigningSecretCommand/);
    expect(rate.AlarmDescription).toMatch(/previous/);
    // The count alarm it replaces paged for every probe.
    expect(Object.keys(plain.findResources('AWS::CloudWatch::Alarm')).join()).not.toMatch(
      /MonitoringInvalidSignatures/,
    );
  });

  it("keeps every alarm description within CloudWatch's 1024 characters (PutMetricAlarm)", () => {
    for (const alarm of Object.values(plain.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmDescription.length).toBeLessThanOrEqual(1024);
    }
  });

  it('pages when a backfill run fails or times out, naming the errors and what to do', () => {
    const stateMachine = logicalIdOf(plain, 'AWS::StepFunctions::StateMachine');
    for (const [id, metric] of [
      ['BackfillRunFailed', 'ExecutionsFailed'],
      ['BackfillRunTimedOut', 'ExecutionsTimedOut'],
    ] as const) {
      const run = alarm(plain, id);
      expect(run).toMatchObject({
        Namespace: 'AWS/States',
        MetricName: metric,
        Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: stateMachine } }],
        Statistic: 'Sum',
        Threshold: 1,
      });
      expect(run.AlarmActions).toHaveLength(1);
    }
    expect(alarm(plain, 'BackfillRunFailed').AlarmDescription).toMatch(
      /MissingScopeError names the Management API scopes.*ExportFailedError/,
    );
    expect(alarm(plain, 'BackfillRunTimedOut').AlarmDescription).toMatch(/12 hours/);
  });

  it('pages when a user has waited a day in the backfill queue, before SQS deletes it at 4 days', () => {
    const age = alarm(plain, 'BackfillQueueOldestMessageAge');
    const queues = Object.fromEntries(
      Object.entries(
        plain.findResources('AWS::SQS::Queue', {
          Properties: { MessageRetentionPeriod: 4 * 24 * 3600 },
        }),
      ).filter(([id]) => id.startsWith('BackfillUsers')),
    );
    expect(Object.keys(queues)).toHaveLength(1);
    expect(age).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [Object.keys(queues)[0], 'QueueName'] } },
      ],
      Statistic: 'Maximum',
      Threshold: 24 * 3600,
    });
    expect(age.AlarmDescription).toMatch(/deletes messages after 4 days/);
    expect(age.AlarmDescription).toMatch(/ResumeBackfillWorkersCommand/);
  });
});

describe('saved Logs Insights queries', () => {
  const queries = (template: Template) =>
    Object.values(template.findResources('AWS::Logs::QueryDefinition')).map(
      (q) => q.Properties as { Name: string; QueryString: string; LogGroupNames: unknown[] },
    );
  const logGroupOf = (description: RegExp) => {
    const [fn] = Object.values(
      plain.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp(description.source) },
      }),
    );
    return fn?.Properties.LoggingConfig.LogGroup;
  };

  it("follows one user across the API's, the worker's and the orchestrator's log groups, in the stack's folder", () => {
    const history = queries(plain).find((q) => /one user's history/.test(q.Name));
    expect(history?.Name).toMatch(/^CrmSyncTest\//);
    expect(history?.LogGroupNames).toEqual([
      logGroupOf(/POST \/v1\/sync/),
      logGroupOf(/backfill worker/),
      logGroupOf(/backfill export/),
    ]);
    // The placeholder is named so that nobody runs it unchanged by mistake and wonders.
    expect(history?.QueryString).toContain('user_id = "REPLACE_WITH_AUTH0_USER_ID"');
    expect(history?.QueryString).toContain('message = "backfill run"');
    expect(history?.QueryString).toContain('sort @timestamp asc');
  });

  it('counts failures by code: refused or stale requests and the worker failures by fault', () => {
    const failures = queries(plain).find((q) => /failures by code/.test(q.Name));
    expect(failures?.Name).toBe('CrmSyncTest/failures by code (run over the last 24 h)');
    expect(failures?.LogGroupNames).toEqual([
      logGroupOf(/POST \/v1\/sync/),
      logGroupOf(/POST \/v1\/crm-events/),
      logGroupOf(/backfill worker/),
    ]);
    const text = failures?.QueryString ?? '';
    expect(text).toContain(
      'outcome not in ["synced", "cached", "not_found", "health", "explained", "user_not_found", "events_handled"]) or message = "backfill user failed"',
    );
    expect(text).toContain('coalesce(outcome, fault) as code');
    expect(text).toContain('stats count(*) as failures by message, code, detail');
  });
});

describe('backfill control', () => {
  it('deploys the schedule enabled by default and disabled with backfillEnabled=false', () => {
    plain.hasResourceProperties('AWS::Scheduler::Schedule', { State: 'ENABLED' });
    operated.hasResourceProperties('AWS::Scheduler::Schedule', { State: 'DISABLED' });
  });

  it("outputs the workers' event source mapping id and the commands to pause, resume, list and stop", () => {
    const mapping = { Ref: logicalIdOf(plain, 'AWS::Lambda::EventSourceMapping') };
    const runs = { Ref: logicalIdOf(plain, 'AWS::StepFunctions::StateMachine') };
    const outputs = plain.findOutputs('*');
    const value = (name: string) => outputs[name]?.Value;
    expect(value('BackfillWorkerEventSourceMappingId')).toEqual(mapping);
    expect(value('PauseBackfillWorkersCommand')).toEqual({
      'Fn::Join': [
        '',
        ['aws lambda update-event-source-mapping --uuid ', mapping, ' --no-enabled'],
      ],
    });
    expect(value('ResumeBackfillWorkersCommand')).toEqual({
      'Fn::Join': ['', ['aws lambda update-event-source-mapping --uuid ', mapping, ' --enabled']],
    });
    expect(value('ListRunningBackfillsCommand')).toEqual({
      'Fn::Join': [
        '',
        [
          'aws stepfunctions list-executions --state-machine-arn ',
          runs,
          ' --status-filter RUNNING',
        ],
      ],
    });
    expect(value('StopBackfillRunCommand')).toMatch(
      /^aws stepfunctions stop-execution --execution-arn "\$EXECUTION_ARN"/,
    );
    expect(value('StartBackfillRunCommand')).toBeDefined();
    expect(value('BackfillQueueUrl')).toEqual({
      Ref: Object.keys(
        plain.findResources('AWS::SQS::Queue', {
          Properties: { MessageRetentionPeriod: 4 * 24 * 3600 },
        }),
      )[0],
    });
  });
});

// One backfill run at a time (the run lock): test/infra/backfill-run-lock.test.ts.

describe('custom domain and source networks', () => {
  it('serves the API on the custom domain only (TLS 1.2, $default stage) and outputs its URL and DNS target', () => {
    const domain = onlyResource(operated, 'AWS::ApiGatewayV2::DomainName');
    expect(domain.Properties).toEqual({
      DomainName: 'sync.acme.test',
      DomainNameConfigurations: [
        {
          CertificateArn: OPERATED.certificateArn,
          EndpointType: 'REGIONAL',
          SecurityPolicy: 'TLS_1_2',
        },
      ],
    });
    operated.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', {
      ApiId: { Ref: logicalIdOf(operated, 'AWS::ApiGatewayV2::Api') },
      DomainName: { Ref: logicalIdOf(operated, 'AWS::ApiGatewayV2::DomainName') },
      Stage: '$default',
    });
    operated.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: true });
    const outputs = operated.findOutputs('*');
    expect(outputs.SyncApiUrl?.Value).toBe('https://sync.acme.test/v1/sync');
    const domainId = logicalIdOf(operated, 'AWS::ApiGatewayV2::DomainName');
    expect(outputs.SyncApiDnsTarget?.Value).toEqual({
      'Fn::GetAtt': [domainId, 'RegionalDomainName'],
    });
    expect(outputs.SyncApiDnsHostedZoneId?.Value).toEqual({
      'Fn::GetAtt': [domainId, 'RegionalHostedZoneId'],
    });
    // The Action the stack installs calls the custom domain.
    operated.hasResourceProperties('Custom::Auth0PostLoginAction', {
      SyncApiUrl: 'https://sync.acme.test/v1/sync',
    });
    // And the execute-api URL goes off only once the Action has moved.
    const api = Object.values(operated.findResources('AWS::ApiGatewayV2::Api'))[0];
    const installer = Object.keys(operated.findResources('Custom::Auth0PostLoginAction'))[0];
    expect(api?.DependsOn).toEqual(expect.arrayContaining([installer]));
  });

  it('adds a domain without cutting logins: with executeApiEndpoint=true the Action keeps the execute-api URL until a second deploy', () => {
    const adding = synth({ ...OPERATED, executeApiEndpoint: 'true' });
    adding.resourceCountIs('AWS::ApiGatewayV2::DomainName', 1);
    expect(
      onlyResource(adding, 'AWS::ApiGatewayV2::Api').Properties.DisableExecuteApiEndpoint,
    ).toBe(undefined);
    const outputs = adding.findOutputs('*');
    expect(JSON.stringify(outputs.SyncApiUrl?.Value)).toMatch(/execute-api/);
    expect(outputs.SyncApiCustomUrl?.Value).toBe('https://sync.acme.test/v1/sync');
    const installed = Object.values(adding.findResources('Custom::Auth0PostLoginAction'))[0];
    expect(JSON.stringify(installed?.Properties.SyncApiUrl)).toMatch(/execute-api/);
    // And it never turns the only URL off.
    expect(() => synth({ ...DEPLOYABLE, executeApiEndpoint: false })).toThrow(
      /executeApiEndpoint: false turns the only URL off without a custom domain/,
    );
  }, 60_000);

  it('without a custom domain, keeps the execute-api URL', () => {
    plain.resourceCountIs('AWS::ApiGatewayV2::DomainName', 0);
    plain.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 0);
    expect(onlyResource(plain, 'AWS::ApiGatewayV2::Api').Properties.DisableExecuteApiEndpoint).toBe(
      undefined,
    );
    expect(JSON.stringify(plain.findOutputs('SyncApiUrl'))).toMatch(/execute-api/);
    expect(plain.findOutputs('SyncApiDnsTarget')).toEqual({});
  });

  it('passes allowedSourceIps to the sync function as ALLOWED_SOURCE_IPS, verbatim, and nothing when unset', () => {
    const variables = (template: Template, description: string) =>
      Object.values(
        template.findResources('AWS::Lambda::Function', {
          Properties: { Description: Match.stringLikeRegexp(description) },
        }),
      )[0]?.Properties.Environment.Variables;
    expect(variables(operated, 'POST /v1/sync').ALLOWED_SOURCE_IPS).toBe('auth0:eu,203.0.113.0/24');
    expect(variables(plain, 'POST /v1/sync').ALLOWED_SOURCE_IPS).toBeUndefined();
    // The worker answers no HTTP request.
    expect(variables(operated, 'backfill worker').ALLOWED_SOURCE_IPS).toBeUndefined();
  });
});

describe('two stages in one account', () => {
  it('share no physical name', () => {
    const [a, b] = synthStacks(DEPLOYABLE, ['CrmSyncStaging', 'CrmSyncProduction']) as [
      Template,
      Template,
    ];
    // Names scoped to a parent resource (a role's inline policy, an API's stage) or not names.
    const scoped = new Set(['PolicyName', 'StageName', 'MetricName', 'AttributeName']);
    const names = (template: Template) =>
      Object.values<{ Type: string; Properties?: object }>(template.toJSON().Resources).flatMap(
        (resource) =>
          Object.entries(resource.Properties ?? {})
            .filter(
              ([key, value]) => /Name$/.test(key) && !scoped.has(key) && typeof value === 'string',
            )
            .map(([key, value]) => `${resource.Type}.${key}=${value}`),
      );
    const [namesA, namesB] = [names(a), names(b)];
    // The resources an operator finds by name carry the stage's.
    expect(namesA).toEqual(
      expect.arrayContaining([
        'AWS::StepFunctions::StateMachine.StateMachineName=CrmSyncStaging-backfill',
        'AWS::CloudWatch::Dashboard.DashboardName=CrmSyncStaging-crm-sync',
        'AWS::ApiGatewayV2::Api.Name=CrmSyncStaging-sync-api',
        'AWS::SNS::Topic.DisplayName=auth0-crm-sync alarms (CrmSyncStaging)',
      ]),
    );
    expect(namesA.filter((n) => n.startsWith('AWS::Logs::QueryDefinition'))).toHaveLength(2);
    expect(namesA.filter((name) => namesB.includes(name))).toEqual([]);
  }, 60_000);

  it("keep their metrics apart: each stack's functions write, and its alarms read, its own namespace", () => {
    const [a, b] = synthStacks(DEPLOYABLE, ['CrmSyncStaging', 'CrmSyncProduction']) as [
      Template,
      Template,
    ];
    const namespacesOf = (template: Template) => {
      const written = Object.values(template.findResources('AWS::Lambda::Function')).map(
        (fn) => fn.Properties.Environment.Variables.METRICS_NAMESPACE as string,
      );
      const read = JSON.stringify(template.findResources('AWS::CloudWatch::Alarm'))
        .match(/"Namespace":"Auth0CrmSync[^"]*"/g)
        ?.map((match) => match.slice('"Namespace":"'.length, -1));
      return new Set([...written, ...(read ?? [])]);
    };
    expect([...namespacesOf(a)]).toEqual(['Auth0CrmSync/CrmSyncStaging']);
    expect([...namespacesOf(b)]).toEqual(['Auth0CrmSync/CrmSyncProduction']);
  }, 60_000);

  it("refuses a stack name too long for the state machine's, naming stackName", () => {
    expect(() => synthStacks(DEPLOYABLE, ['A'.repeat(72)])).toThrow(
      /^Invalid CDK context: stackName: .* at most 71 characters$/,
    );
  });
});
