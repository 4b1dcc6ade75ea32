import {
  Annotations,
  CfnOutput,
  CfnParameter,
  CfnRule,
  Fn,
  Stack,
  type StackProps,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { exampleSettings, type StackConfig } from './config.ts';
import { ActionInstallation } from './constructs/action-installation.ts';
import { Backfill } from './constructs/backfill.ts';
import { CrmEvents } from './constructs/crm-events.ts';
import { Governance } from './constructs/governance.ts';
import { LogQueries } from './constructs/log-queries.ts';
import { Monitoring } from './constructs/monitoring.ts';
import { ServiceSecrets } from './constructs/service-secrets.ts';
import { StampTable } from './constructs/stamp-table.ts';
import { SyncApi } from './constructs/sync-api.ts';

export interface CrmSyncStackProps extends StackProps {
  readonly config: StackConfig;
}

/** auth0-crm-sync: the sync API, its table and secrets, the backfill, and the alarms watching them. */
export class CrmSyncStack extends Stack {
  constructor(scope: Construct, id: string, props: CrmSyncStackProps) {
    super(scope, id, props);
    const { config } = props;
    refuseExampleValuesAtDeploy(this, config);
    const governance = new Governance(this, 'Governance', { config });

    const stamps = new StampTable(this, 'SyncStamps');
    const secrets = new ServiceSecrets(this, 'Secrets', {
      auth0CredentialsSecretArn: config.auth0CredentialsSecretArn,
      crmKind: config.crmKind,
    });
    const sync = new SyncApi(this, 'SyncApi', {
      config,
      table: stamps.table,
      secrets,
      governance,
    });
    const backfill = new Backfill(this, 'Backfill', {
      config,
      table: stamps.table,
      secrets,
      governance,
    });
    const crmEvents = new CrmEvents(this, 'CrmEvents', {
      config,
      table: stamps.table,
      secrets,
      governance,
      api: sync,
      resyncs: backfill.resyncs,
    });
    const functions: Record<string, import('aws-cdk-lib/aws-lambda').IFunction> = {
      Sync: sync.handler,
      CrmEvents: crmEvents.handler,
      BackfillWorker: backfill.worker,
      BackfillOrchestrator: backfill.orchestrator,
    };
    if (config.installAction) {
      const installation = new ActionInstallation(this, 'Auth0Action', {
        config,
        secrets,
        syncApiUrl: sync.url,
        governance,
      });
      functions.ActionInstaller = installation.handler;
      // The deploy that moves the Action to the custom domain also turns the execute-api URL off;
      // CloudFormation would do both at once, and logins would call a URL already off until the
      // installer (which waits for Auth0's build) is done. The URL goes off only after it.
      if (config.domainName && !config.executeApiEndpoint)
        sync.api.node.addDependency(installation);
    }
    new Monitoring(this, 'Monitoring', {
      sync: sync.handler,
      functions,
      deadLetterQueues: { BackfillDeadLetters: backfill.deadLetterQueue },
      backfill: { runs: backfill.stateMachine, users: backfill.queue },
      crmEvents: { resyncs: backfill.resyncs },
      alarmEmail: config.alarmEmail,
    });
    new LogQueries(this, 'LogQueries', {
      api: sync.handler.logs,
      crmEvents: crmEvents.handler.logs,
      worker: backfill.worker.logs,
      orchestrator: backfill.orchestrator.logs,
    });
    backfillControlOutputs(this, backfill);

    new CfnOutput(this, 'StampTableName', { value: stamps.table.tableName });
    new CfnOutput(this, 'SigningSecretArn', { value: secrets.signing.secretArn });
    crmCredentialOutputs(this, config, secrets);
    new CfnOutput(this, 'Auth0CredentialsSecretArn', { value: secrets.auth0.secretArn });
    new CfnOutput(this, 'SetAuth0CredentialsCommand', {
      description: 'The M2M application used by the backfill and the Action installer',
      value: `aws secretsmanager put-secret-value --secret-id ${secrets.auth0.secretArn} --secret-string "{\\"clientId\\":\\"$AUTH0_CLIENT_ID\\",\\"clientSecret\\":\\"$AUTH0_CLIENT_SECRET\\"}"`,
    });
    new CfnOutput(this, 'CrmEventsUrl', {
      value: crmEvents.url,
      description: "The CRM webhook's URL (README: CRM change events)",
    });
    new CfnOutput(this, 'CrmWebhookSecretArn', { value: secrets.crmWebhook.secretArn });
    new CfnOutput(this, 'ReadCrmWebhookSecretCommand', {
      description:
        'The CRM webhook\'s signing key is the \'current\' value; to use one the CRM issues, put-secret-value {"current":"..."}',
      value: `aws secretsmanager get-secret-value --secret-id ${secrets.crmWebhook.secretArn} --query SecretString --output text`,
    });
    new CfnOutput(this, 'ReadSigningSecretCommand', {
      description: "The Action's SYNC_SIGNING_SECRET is the 'current' value",
      value: `aws secretsmanager get-secret-value --secret-id ${secrets.signing.secretArn} --query SecretString --output text`,
    });
  }
}

/** The backfill's ids and the commands an operator runs to start, pause, resume or stop it. */
function backfillControlOutputs(stack: Stack, backfill: Backfill): void {
  const runs = backfill.stateMachine.stateMachineArn;
  const mapping = backfill.workerEventSourceMappingId;
  const outputs: Record<string, { value: string; description?: string }> = {
    BackfillStateMachineArn: { value: runs },
    BackfillQueueUrl: { value: backfill.queue.queueUrl },
    BackfillDeadLetterQueueUrl: { value: backfill.deadLetterQueue.queueUrl },
    BackfillWorkerEventSourceMappingId: {
      value: mapping,
      description: 'The SQS event source mapping of the backfill workers (pause/resume them)',
    },
    PauseBackfillWorkersCommand: {
      value: `aws lambda update-event-source-mapping --uuid ${mapping} --no-enabled`,
      description:
        'Stops the workers taking users from the queue; queued users wait (SQS keeps them 4 days)',
    },
    ResumeBackfillWorkersCommand: {
      value: `aws lambda update-event-source-mapping --uuid ${mapping} --enabled`,
      description: 'The workers take users from the queue again',
    },
    ResyncsQueueUrl: {
      value: backfill.resyncs.queueUrl,
      description: 'The users CRM change events queued for a re-sync',
    },
    ResyncWorkersEventSourceMappingId: { value: backfill.resyncEventSourceMappingId },
    PauseResyncWorkersCommand: {
      value: `aws lambda update-event-source-mapping --uuid ${backfill.resyncEventSourceMappingId} --no-enabled`,
      description:
        "Stops the workers taking CRM events' re-syncs (the backfill's pause leaves them running); queued ones wait",
    },
    ResumeResyncWorkersCommand: {
      value: `aws lambda update-event-source-mapping --uuid ${backfill.resyncEventSourceMappingId} --enabled`,
    },
    ListRunningBackfillsCommand: {
      value: `aws stepfunctions list-executions --state-machine-arn ${runs} --status-filter RUNNING`,
    },
    StartBackfillRunCommand: {
      value: `aws stepfunctions start-execution --state-machine-arn ${runs}`,
      description: 'A run now, besides the schedule (skipped if one is running)',
    },
    StopBackfillRunCommand: {
      value:
        'aws stepfunctions stop-execution --execution-arn "$EXECUTION_ARN" --cause "stopped by the operator"',
      description:
        'EXECUTION_ARN from ListRunningBackfillsCommand; users already queued are still worked unless the workers are paused',
    },
  };
  for (const [id, props] of Object.entries(outputs)) new CfnOutput(stack, id, props);
}

/**
 * cdk.json ships example values so `cdk synth` works offline. They must never reach a tenant:
 * a CloudFormation rule fails the deploy before any resource changes, naming the settings.
 */
function refuseExampleValuesAtDeploy(stack: Stack, config: StackConfig): void {
  const examples = exampleSettings(config);
  if (examples.length === 0) return;
  const message = `Example values still set in cdk.json context: ${examples.join(', ')}. Set them in cdk.json (a stage's account only there, in its block under stages) or with -c <name>=<value> before deploying.`;
  Annotations.of(stack).addWarningV2('crm-sync:example-values', message);
  const check = new CfnParameter(stack, 'ConfigurationCheck', {
    type: 'String',
    default: `example values: ${examples.join(', ')}`,
    description: 'Filled by the CDK app; deploying is refused while cdk.json holds example values.',
  });
  new CfnRule(stack, 'NoExampleValues', {
    assertions: [
      { assert: Fn.conditionEquals(check.valueAsString, 'configured'), assertDescription: message },
    ],
  });
}

/** The CRM credentials' secret and the command that fills it, by crmKind. */
function crmCredentialOutputs(stack: Stack, config: StackConfig, secrets: ServiceSecrets) {
  const arn = secrets.crmCredentials.secretArn;
  if (config.crmKind === 'salesforce') {
    new CfnOutput(stack, 'SalesforceCredentialsSecretArn', { value: arn });
    new CfnOutput(stack, 'SetSalesforceCredentialsCommand', {
      description:
        "Run once after the first deploy (and at every rotation of the connected app's secret)",
      value: `aws secretsmanager put-secret-value --secret-id ${arn} --secret-string "{\\"client_id\\":\\"$SALESFORCE_CLIENT_ID\\",\\"client_secret\\":\\"$SALESFORCE_CLIENT_SECRET\\"}"`,
    });
    return;
  }
  new CfnOutput(stack, 'CrmApiKeySecretArn', { value: arn });
  new CfnOutput(stack, 'SetCrmApiKeyCommand', {
    description:
      config.crmKind === 'hubspot'
        ? "Run once after the first deploy (and at every rotation of the private app's token): CRM_API_KEY holds the HubSpot token"
        : 'Run once after the first deploy (and at every CRM key rotation)',
    value: `aws secretsmanager put-secret-value --secret-id ${arn} --secret-string "$CRM_API_KEY"`,
  });
}
