import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { readStackConfig } from '#infra/config.ts';
import { DEPLOYABLE, synth } from './synth-stack.ts';

let template: Template;
beforeAll(() => {
  template = synth(DEPLOYABLE);
}, 60_000);

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

function statementsOf(roleLogicalIdPrefix: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) =>
      (p.Properties.Roles as Array<{ Ref: string }>).some((r) =>
        r.Ref.startsWith(roleLogicalIdPrefix),
      ),
    )
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

const actionsOf = (statements: Statement[]) =>
  statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])).sort();

describe('the synthesized stack', () => {
  it('runs every function on Node 24, arm64, with its own log group kept 90 days', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions).length).toBeGreaterThan(0);
    for (const fn of Object.values(functions)) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    for (const group of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect(group.DeletionPolicy).toBe('Retain');
    }
  });

  it('routes /v1/crm-events to a function of its own, which may query the index and queue re-syncs', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual([
      '$default',
      'ANY /v1/crm-events',
    ]);
    const events = statementsOf('CrmEventsCrmEventsFunctionRole');
    expect(actionsOf(events)).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ]);
    // Whole items only under the event ids' prefix: never a stamp, a signature or the run lock.
    const items = events.find((s) => actionsOf([s]).includes('dynamodb:PutItem')) as Statement & {
      Condition?: unknown;
    };
    expect(items.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['#crm-event#*'] },
    });
    // A stamp is only ever marked: two attributes set, one read, on a user's item.
    const update = events.find((s) => s.Action === 'dynamodb:UpdateItem') as Statement & {
      Condition?: unknown;
    };
    expect(update.Condition).toEqual({
      'ForAllValues:StringNotLike': { 'dynamodb:LeadingKeys': ['#*'] },
      'ForAllValues:StringEquals': {
        'dynamodb:Attributes': ['user_id', 'fresh_until', 'crm_changed_at', 'synced_at'],
      },
      StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
    });
    const query = events.find((s) => s.Action === 'dynamodb:Query');
    expect(JSON.stringify(query?.Resource)).toMatch(/index\/by-change-key"\]\]\}$/);
    const secrets = JSON.stringify(
      events.filter((s) => actionsOf([s]).includes('secretsmanager:GetSecretValue')),
    );
    expect(secrets).toMatch(/CrmWebhookSecret/);
    expect(secrets).toMatch(/MatchKeyHashSecret/);
    expect(secrets).not.toMatch(/SigningSecret|CrmApiKey|Auth0Credentials/);
    // No role may touch every index: each grant names the table, or the index above.
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).not.toContain('/index/*');
    // One index: a deployed table can gain only one per update (DynamoDB's UpdateTable).
    const [table] = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
    expect(table?.Properties.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'by-change-key',
        KeySchema: [{ AttributeName: 'change_key', KeyType: 'HASH' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    const names = alarms.map((a) => JSON.stringify(a.Properties));
    expect(names.some((a) => a.includes('CrmEventRequests') && a.includes('internal_error'))).toBe(
      true,
    );
    expect(
      names.some((a) => a.includes('CrmEventRequests') && a.includes('invalid_signature')),
    ).toBe(true);
  });

  it('gives the sync function only the table actions it uses and read access to its three secrets', () => {
    const statements = statementsOf('SyncApiSyncFunctionRole');
    expect(actionsOf(statements)).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      // One statement for both secrets: cdk.json's @aws-cdk/aws-iam:minimizePolicies merges them.
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
    ]);
    const secretResources = statements
      .filter((s) => actionsOf([s]).includes('secretsmanager:GetSecretValue'))
      .map((s) => JSON.stringify(s.Resource));
    expect(secretResources.join()).toMatch(/SigningSecret/);
    expect(secretResources.join()).toMatch(/CrmApiKey/);
    expect(secretResources.join()).toMatch(/MatchKeyHashSecret/);
    expect(secretResources.join()).not.toMatch(/Auth0Credentials|CrmWebhookSecret/);
    // The login path queues nobody.
    expect(JSON.stringify(statements)).not.toMatch(/sqs:/);
    expect(JSON.stringify(statements)).not.toMatch(/"\*"/);
  });

  it('keeps sync stamps in an on-demand, encrypted table with PITR, TTL, deletion protection, retained', () => {
    const tables = template.findResources('AWS::DynamoDB::GlobalTable');
    const [table] = Object.values(tables);
    expect(Object.keys(tables)).toHaveLength(1);
    expect(table?.DeletionPolicy).toBe('Retain');
    expect(table?.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'user_id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      SSESpecification: { SSEEnabled: true },
      Replicas: [
        expect.objectContaining({
          DeletionProtectionEnabled: true,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        }),
      ],
    });
  });

  it('never puts a secret value in the template', () => {
    const secrets = template.findResources('AWS::SecretsManager::Secret');
    expect(Object.keys(secrets)).toHaveLength(5);
    for (const secret of Object.values(secrets)) {
      expect(secret.Properties.SecretString).toBeUndefined();
      expect(secret.DeletionPolicy).toBe('Retain');
    }
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ GenerateStringKey: 'current', PasswordLength: 48 }),
    });
  });

  it('routes every path to the handler, throttles the stage and writes access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
    const format = JSON.stringify(template.findResources('AWS::ApiGatewayV2::Stage'));
    expect(format).not.toMatch(/signature|requestBody|\$input/i);
  });

  it('alarms on the 5xx rate, CRM failures, Lambda errors and throttles, to an e-mail', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'));
    const descriptions = alarms.map((a) => a.Properties.AlarmDescription as string).join('\n');
    expect(descriptions).toMatch(/5xx/);
    expect(descriptions).toMatch(/CRM failed/);
    expect(descriptions).toMatch(/Sync Lambda reported errors/);
    expect(descriptions).toMatch(/Sync Lambda was throttled/);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@acme.test',
    });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('alarms on the CRM circuit opening', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: Match.stringLikeRegexp('^Auth0CrmSync/'),
      MetricName: 'CrmCircuitOpened',
      Threshold: 1,
    });
  });

  it("tells the sync function the Action's timeout, so its waiters fit inside it", () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('sync'),
      Environment: {
        Variables: Match.objectLike({ CRM_TIMEOUT_MS: '2500', ACTION_TIMEOUT_MS: '3000' }),
      },
    });
  });

  it('outputs the API URL, the secret ARNs, the table name and the commands to set secrets', () => {
    const outputs = template.findOutputs('*');
    for (const name of [
      'SyncApiUrl',
      'StampTableName',
      'SigningSecretArn',
      'CrmApiKeySecretArn',
      'Auth0CredentialsSecretArn',
      'SetCrmApiKeyCommand',
    ]) {
      expect(outputs[name], name).toBeDefined();
    }
  });

  it('passes the sync settings to the function from context', () => {
    const custom = synth({
      ...DEPLOYABLE,
      syncTimeZone: 'Europe/Paris',
      claimMap: { crm_id: 'id', tier: 'tier' },
    });
    custom.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          SYNC_TIME_ZONE: 'Europe/Paris',
          CLAIM_MAP: '{"crm_id":"id","tier":"tier"}',
          CRM_URL: DEPLOYABLE.crmUrl,
        }),
      },
    });
  }, 60_000);
});

describe('the backfill', () => {
  it('gives the worker the stamp actions of the login path, the CRM key and the Auth0 credentials, nothing more', () => {
    const statements = statementsOf('BackfillWorkerRole');
    const actions = new Set(actionsOf(statements));
    expect([...actions].filter((a) => a.startsWith('dynamodb:')).sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    const text = JSON.stringify(statements);
    expect(text).toMatch(/CrmApiKey/);
    expect(text).toMatch(/Auth0Credentials/);
    expect(text).not.toMatch(/SigningSecret/);
    expect([...actions].filter((a) => a.startsWith('sqs:')).sort()).toEqual([
      'sqs:ChangeMessageVisibility',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:ReceiveMessage',
    ]);
  });

  it('lets the orchestrator only batch-read stamps, read the Auth0 credentials and send to the queue', () => {
    const statements = statementsOf('BackfillOrchestratorRole');
    const actions = actionsOf(statements);
    // It computes a stamp's basis itself: no CRM key, no signing secret, in its role or settings.
    const text = JSON.stringify(statements);
    expect(text).toMatch(/Auth0Credentials/);
    expect(text).not.toMatch(/CrmApiKey|SigningSecret/);
    const [orchestrator] = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('backfill export') },
      }),
    );
    const variables = Object.keys(orchestrator?.Properties.Environment.Variables ?? {});
    expect(variables).toEqual(
      expect.arrayContaining(['TABLE_NAME', 'CLAIM_MAP', 'CRM_MATCH_KEYS']),
    );
    expect(variables.filter((v) => /CRM_URL|CRM_API_KEY|SIGNING/.test(v))).toEqual([]);
    expect(actions.filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:BatchGetItem']);
    expect(actions.filter((a) => a.startsWith('sqs:')).sort()).toEqual([
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ]);
  });

  it('runs on a schedule, through a state machine, into an encrypted TLS-only queue with a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      ScheduleExpressionTimezone: 'UTC',
      Target: Match.objectLike({ Arn: Match.anyValue() }),
    });
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    // A failed export job or a missing scope fails the run at once; anything else is retried.
    const definition = JSON.stringify(
      Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0],
    );
    expect(definition).toContain(
      String.raw`{\"ErrorEquals\":[\"ExportFailedError\",\"MissingScopeError\"],\"MaxAttempts\":0},{\"ErrorEquals\":[\"States.ALL\"]`,
    );
    // The users of runs, the re-syncs CRM events queue, and their dead letters.
    const queues = Object.values(template.findResources('AWS::SQS::Queue'));
    expect(queues).toHaveLength(3);
    for (const queue of queues) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 8 }),
    });
    template.resourceCountIs('AWS::SQS::QueuePolicy', 3);
    expect(JSON.stringify(template.findResources('AWS::SQS::QueuePolicy'))).toMatch(
      /aws:SecureTransport/,
    );
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    const alarms = JSON.stringify(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toMatch(/dead-letter queue/);
  });
});

const EXISTING_AUTH0_SECRET =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:auth0-crm-sync/auth0-AbC123';

describe('the opt-in Action installation', () => {
  it('is a custom resource carrying the built Action and its settings, whose installer reads only the signing and Auth0 secrets', () => {
    const installed = synth({
      ...DEPLOYABLE,
      installAction: true,
      auth0CredentialsSecretArn: EXISTING_AUTH0_SECRET,
      actionPosition: 'first',
      accessTokenClaims: true,
      actionMetadataWrites: 'daily',
    });
    const resources = installed.findResources('Custom::Auth0PostLoginAction');
    const [resource] = Object.values(resources);
    expect(resource?.Properties).toMatchObject({
      ActionName: 'auth0-crm-sync',
      Position: 'first',
      FailMode: 'open',
      AccessTokenClaims: 'true',
      MetadataWrites: 'daily',
      Auth0SecretArn: EXISTING_AUTH0_SECRET,
    });
    expect(resource?.Properties.Code).toContain('onExecutePostLogin');
    expect(JSON.stringify(resource?.Properties)).not.toMatch(/SecretString/);
    const policies = Object.values(installed.findResources('AWS::IAM::Policy')).filter((p) =>
      (p.Properties.Roles as Array<{ Ref: string }>).some((r) =>
        r.Ref.startsWith('Auth0ActionInstallerRole'),
      ),
    );
    const text = JSON.stringify(policies);
    expect(text).toMatch(/SigningSecret/);
    expect(text).toContain(EXISTING_AUTH0_SECRET);
    expect(text).not.toMatch(/CrmApiKey|dynamodb/);
    expect(template.findResources('Custom::Auth0PostLoginAction')).toEqual({});
  }, 60_000);

  it('with an existing Auth0 credentials secret, creates none and grants the backfill read on it', () => {
    const imported = synth({ ...DEPLOYABLE, auth0CredentialsSecretArn: EXISTING_AUTH0_SECRET });
    const secrets = Object.values(imported.findResources('AWS::SecretsManager::Secret'));
    expect(secrets).toHaveLength(4);
    expect(JSON.stringify(secrets)).not.toMatch(/Auth0 M2M/);
    const worker = Object.values(imported.findResources('AWS::IAM::Policy')).filter((p) =>
      (p.Properties.Roles as Array<{ Ref: string }>).some((r) =>
        r.Ref.startsWith('BackfillWorkerRole'),
      ),
    );
    expect(JSON.stringify(worker)).toContain(EXISTING_AUTH0_SECRET);
    expect(imported.findOutputs('Auth0CredentialsSecretArn').Auth0CredentialsSecretArn?.Value).toBe(
      EXISTING_AUTH0_SECRET,
    );
  }, 60_000);

  it('refuses installAction without an existing credentials secret, saying the two orders that work', () => {
    const context = { ...DEPLOYABLE, installAction: true } as Record<string, unknown>;
    let message = '';
    try {
      readStackConfig((key) => context[key]);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/installAction=true needs auth0CredentialsSecretArn/);
    expect(message).toMatch(/\(1\) deploy with installAction=false, put the credentials/);
    expect(message).toMatch(/then deploy again with installAction=true/);
    expect(message).toMatch(/\(2\) create the secret first .* pass its ARN/);
  });
});

describe('configuration', () => {
  it('with the example values of cdk.json, synth works but the deploy is refused by a rule naming them', () => {
    const example = synth({
      auth0Domain: 'your-tenant.us.auth0.com',
      crmUrl: 'https://crm.example.com/contacts/lookup',
    });
    const rules = example.toJSON().Rules as Record<
      string,
      { Assertions: Array<{ AssertDescription: string }> }
    >;
    const description = rules.NoExampleValues?.Assertions[0]?.AssertDescription;
    expect(description).toMatch(/auth0Domain, crmUrl/);
    expect(template.toJSON().Rules.NoExampleValues).toBeUndefined();
  }, 60_000);

  it.each([
    [{ crmUrl: 'http://crm.acme.test' }, /crmUrl/],
    [{ syncTimeZone: 'Nowhere/Else' }, /syncTimeZone/],
    [{ claimMap: { 'a.b': 'x' } }, /claim name/],
    [{ alarmEmail: 'not-an-email' }, /alarmEmail/],
    [{ logRetentionDays: 42 }, /logRetentionDays/],
    // A name or partial ARN: Secret.fromSecretCompleteArn needs the 6-character suffix.
    [{ auth0CredentialsSecretArn: 'auth0-crm-sync/auth0' }, /auth0CredentialsSecretArn/],
    // A CRM timeout that leaves no room inside the Action's: waiters could never be answered.
    [{ crmTimeoutMs: 2_800, actionTimeoutMs: 3_000 }, /crmTimeoutMs and actionTimeoutMs/],
  ])('refuses %j with a message naming the setting', (override, message) => {
    const context = { ...DEPLOYABLE, ...override } as Record<string, unknown>;
    expect(() => readStackConfig((key) => context[key])).toThrow(message);
  });
});
