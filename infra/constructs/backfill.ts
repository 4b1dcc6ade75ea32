import { Duration, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption, RedrivePermission } from 'aws-cdk-lib/aws-sqs';
import {
  Choice,
  Condition,
  DefinitionBody,
  LogLevel,
  StateMachine,
  Succeed,
  TaskInput,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { BACKFILL_MAX_RECEIVES, BACKFILL_NOT_RETRIED_ERRORS } from '#shared/names.ts';
import type { StackConfig } from '../config.ts';
import {
  backfillStateMachineName,
  lockHolderResourceForNag,
  singleRunGuard,
} from './backfill-run-lock.ts';
import type { Governance } from './governance.ts';
import { ServiceFunction } from './service-function.ts';
import type { ServiceSecrets } from './service-secrets.ts';
import { grantItemActions } from './stamp-table.ts';
import { stampEnvironment, syncServiceEnvironment } from './sync-api.ts';

export interface BackfillProps {
  readonly config: StackConfig;
  readonly table: TableV2;
  readonly secrets: ServiceSecrets;
  readonly governance: Governance;
}

/**
 * The scheduled backfill: EventBridge Scheduler starts a Step Functions run that exports the
 * tenant and streams it into an SQS queue in as many Lambda invocations as it takes (durable,
 * resumable state in Step Functions, not a hand-made scheduler); a worker Lambda drains the
 * queue within the CRM's and Auth0's rate limits. A run that finds another still running ends at
 * once, succeeded: a run exports only while it holds the run lock in the stamp table
 * (backfill-run-lock.ts). `backfillEnabled=false` deploys the schedule disabled.
 */
/** Concurrent workers of CRM event re-syncs (an SQS event source's least maxConcurrency). */
const RESYNC_WORKERS = 2;

export class Backfill extends Construct {
  readonly queue: Queue;
  /**
   * Users a CRM change event queued for a re-sync: a lane of their own, worked beside a run's
   * export instead of behind it (a run can queue the whole tenant), and never seen by a worker
   * of a version before events (their messages hold only the user id).
   */
  readonly resyncs: Queue;
  readonly deadLetterQueue: Queue;
  readonly worker: ServiceFunction;
  readonly orchestrator: ServiceFunction;
  readonly stateMachine: StateMachine;
  /** The worker's SQS event source mapping: disabling it pauses every worker at once. */
  readonly workerEventSourceMappingId: string;
  /** The worker's event source mapping on the re-syncs queue (CRM events' lane). */
  readonly resyncEventSourceMappingId: string;

  private get stack(): Stack {
    return Stack.of(this);
  }

  /** A queue of users for the worker: encrypted, TLS only, dead letters after 8 receives. */
  private workQueue(id: string): Queue {
    return new Queue(this, id, {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Longer than a worker batch can take, so a user is never handled twice at once.
      visibilityTimeout: Duration.minutes(3),
      retentionPeriod: Duration.days(4),
      // A user whose message failed this often (CRM or Auth0 down for hours) lands in the DLQ.
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: BACKFILL_MAX_RECEIVES },
    });
  }

  constructor(scope: Construct, id: string, props: BackfillProps) {
    super(scope, id);
    const { config, table, secrets } = props;
    // First: a stack name too long for it stops the synth before anything is bundled.
    const stateMachineName = backfillStateMachineName(this.stack);
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // Says what it is: a dead-letter queue, the end of the line, with no DLQ of its own
      // (Control Tower's CT.SQS.PR.1 asks each queue for one or for this). allowAll is SQS's
      // default, made explicit ("allowAll – (Default) Any source queues in this AWS account in
      // the same Region can specify this queue as the dead-letter queue", RedriveAllowPolicy,
      // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html);
      // byQueue would name the users queue, which names this one: a cycle.
      redriveAllowPolicy: { redrivePermission: RedrivePermission.ALLOW_ALL },
    });
    this.queue = this.workQueue('Users');

    this.resyncs = this.workQueue('Resyncs');

    const auth0Environment = {
      AUTH0_DOMAIN: config.auth0Domain,
      AUTH0_SECRET_ARN: secrets.auth0.secretArn,
    };

    const workers = config.backfillMaxConcurrency + RESYNC_WORKERS;
    this.worker = new ServiceFunction(this, 'Worker', {
      entry: 'functions/backfill-worker/handler.ts',
      description: 'auth0-crm-sync: backfill worker (one SQS batch of users)',
      governance: props.governance,
      timeout: Duration.minutes(2),
      environment: {
        ...syncServiceEnvironment(config, table, secrets),
        ...auth0Environment,
        // Each of the concurrent workers (the run's and the re-syncs') keeps to its share of the
        // two budgets.
        AUTH0_WRITES_PER_SECOND: String(config.auth0WritesPerSecond / workers),
        CRM_RATE_PER_SECOND: String(config.crmRatePerSecond / workers),
      },
    });
    const workerSource = new SqsEventSource(this.queue, {
      batchSize: 10,
      reportBatchItemFailures: true,
      maxConcurrency: config.backfillMaxConcurrency,
    });
    this.worker.addEventSource(workerSource);
    // The re-syncs' lane: two workers at most (SQS's least), whatever a run is doing.
    const resyncSource = new SqsEventSource(this.resyncs, {
      batchSize: 10,
      reportBatchItemFailures: true,
      maxConcurrency: RESYNC_WORKERS,
    });
    this.worker.addEventSource(resyncSource);
    this.resyncEventSourceMappingId = resyncSource.eventSourceMappingId;
    this.workerEventSourceMappingId = workerSource.eventSourceMappingId;
    grantItemActions(
      table,
      this.worker,
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'dynamodb:PutItem',
    );
    secrets.crmCredentials.grantRead(this.worker);
    secrets.matchKeyHash.grantRead(this.worker);
    secrets.auth0.grantRead(this.worker);

    this.orchestrator = new ServiceFunction(this, 'Orchestrator', {
      entry: 'functions/backfill-orchestrator/handler.ts',
      description: 'auth0-crm-sync: backfill export and enqueue steps',
      governance: props.governance,
      timeout: Duration.minutes(15),
      memorySize: 1024,
      // Stamps and their basis only: it never calls the CRM and signs nothing, so it holds
      // neither the CRM key nor the signing secret.
      environment: {
        ...stampEnvironment(config, table),
        ...auth0Environment,
        BACKFILL_QUEUE_URL: this.queue.queueUrl,
      },
    });
    grantItemActions(table, this.orchestrator, 'dynamodb:BatchGetItem');
    secrets.auth0.grantRead(this.orchestrator);
    this.queue.grantSendMessages(this.orchestrator);

    const step = (name: string, stepName: string) =>
      new LambdaInvoke(this, name, {
        lambdaFunction: this.orchestrator,
        payload: TaskInput.fromObject({ step: stepName, 'state.$': '$' }),
        payloadResponseOnly: true,
        retryOnServiceExceptions: true,
      })
        // A failed or given-up export job, or a scope the M2M grant lacks, is not transient:
        // fail the run now, naming it, rather than three times over the next 3.5 minutes.
        .addRetry({ errors: BACKFILL_NOT_RETRIED_ERRORS, maxAttempts: 0 })
        .addRetry({ maxAttempts: 3, interval: Duration.seconds(30), backoffRate: 2 });

    const start = step('StartExport', 'start');
    const poll = step('PollExport', 'status');
    const enqueue = step('EnqueueUsers', 'enqueue');
    const summary = step('Summary', 'summary');
    const wait = new Wait(this, 'WaitForExport', { time: WaitTime.duration(Duration.seconds(30)) });
    const work = start
      .next(wait)
      .next(poll)
      .next(
        new Choice(this, 'ExportReady?')
          .when(
            Condition.stringEquals('$.exportState', 'completed'),
            enqueue.next(
              new Choice(this, 'AllEnqueued?')
                .when(
                  Condition.booleanEquals('$.done', true),
                  summary.next(new Succeed(this, 'Done')),
                )
                .otherwise(enqueue),
            ),
          )
          .otherwise(wait),
      );
    const runTimeout = Duration.hours(12);
    const definition = singleRunGuard(this, { stateMachineName, table, runTimeout }, work);
    const logs = props.governance.logGroup(this, 'RunLogs');
    this.stateMachine = new StateMachine(this, 'Run', {
      stateMachineName,
      definitionBody: DefinitionBody.fromChainable(definition),
      timeout: runTimeout,
      tracingEnabled: true,
      // Every state transition, without the data (which holds only counts and the job id anyway).
      logs: { destination: logs, level: LogLevel.ALL, includeExecutionData: false },
      comment: 'auth0-crm-sync backfill: export the tenant, queue users to check',
    });

    Validations.of(this.stateMachine.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions log delivery (logs:CreateLogDelivery, DescribeResourcePolicies, ...) and X-Ray (xray:PutTraceSegments, ...) only work on Resource "*", as AWS documents for state machine logging and tracing.',
    });
    Validations.of(this.stateMachine.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.stack.getLogicalId(this.orchestrator.node.defaultChild as CfnFunction)}.Arn>:*]`,
      reason:
        'lambda:InvokeFunction on the orchestrator function and its versions (<arn>:*), as the Step Functions LambdaInvoke task requires; no other function.',
    });
    Validations.of(this.stateMachine.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${lockHolderResourceForNag(this.stack, stateMachineName)}]`,
      reason:
        'states:DescribeExecution on the executions of this state machine only (execution:<name>:*): the run lock names its holder, a run whose id is known only at run time; no other action, no other state machine.',
    });

    new Schedule(this, 'Schedule', {
      schedule: ScheduleExpression.expression(
        config.backfillSchedule,
        TimeZone.of(config.backfillScheduleTimeZone),
      ),
      target: new StepFunctionsStartExecution(this.stateMachine, {}),
      description: 'auth0-crm-sync: daily backfill of users who do not log in',
      // backfillEnabled=false deploys it DISABLED: no run starts until it is true again.
      enabled: config.backfillEnabled,
    });
  }
}
