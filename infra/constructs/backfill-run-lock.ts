import { ArnFormat, Duration, Stack, Token } from 'aws-cdk-lib';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import {
  Choice,
  Condition,
  Fail,
  type IChainable,
  QueryLanguage,
  Succeed,
} from 'aws-cdk-lib/aws-stepfunctions';
import {
  CallAwsService,
  type CallAwsServiceJsonataProps,
} from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { ConfigError } from '#shared/config.ts';
import { BACKFILL_RUN_LOCK_KEY, STAMP_TABLE } from '#shared/names.ts';

/** The state that ends a run started while another was still going, as succeeded. */
export const SKIPPED_STATE = 'SkippedAnotherRunInProgress';

/**
 * The error a conditional write refused raises in a Task state. Step Functions names an AWS SDK
 * integration's error `ServiceName.ErrorName`, the exception suffix added ("Learning to use AWS
 * service SDK integrations", https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
 * For `aws-sdk:dynamodb` the service part is spelt `DynamoDb` (recorded against AWS in
 * localstack/localstack tests/aws/services/stepfunctions/v2/error_handling/test_aws_sdk.snapshot.json:
 * "DynamoDb.DynamoDbException"), the optimized integration's pages spell it `DynamoDB`. Both are
 * listed: ErrorEquals compares names exactly, and a miss would fail every run the lock refuses.
 */
export const LOCK_TAKEN_ERRORS = [
  'DynamoDb.ConditionalCheckFailedException',
  'DynamoDB.ConditionalCheckFailedException',
];

/** DescribeExecution's statuses of a run that will not run again unless redriven. */
export const FINISHED_STATUSES = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];

/** The lock outlives the longest run by this much (TTL clean-up only: see singleRunGuard). */
const LOCK_MARGIN_SECONDS = 3600;

/**
 * The backfill state machine's name, from the stack's: two stages in one account do not
 * collide, and its ARN can be written down before it exists (the guard's IAM statement names it
 * without referring to the state machine, which would be a circular dependency).
 */
export function backfillStateMachineName(stack: Stack): string {
  const name = `${stack.stackName}-backfill`;
  // Step Functions: a state machine name is at most 80 characters.
  if (name.length > 80) {
    throw new ConfigError(
      `Invalid CDK context: stackName: "${stack.stackName}" is too long for the backfill state machine's name ("${name}", at most 80 characters); choose a stack name of at most 71 characters`,
    );
  }
  return name;
}

/**
 * The runs `DescribeLockHolder` may describe (all runs of this state machine: the holder's id is
 * known only at run time), as cdk-nag writes the resource in its AwsSolutions-IAM5 finding: a
 * pseudo parameter the stack does not know as `<AWS::Name>`.
 */
export function lockHolderResourceForNag(stack: Stack, stateMachineName: string): string {
  const known = (value: string, pseudo: string) =>
    Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value;
  const [partition, region, account] = [
    known(stack.partition, 'Partition'),
    known(stack.region, 'Region'),
    known(stack.account, 'AccountId'),
  ];
  return `arn:${partition}:states:${region}:${account}:execution:${stateMachineName}:*`;
}

export interface RunLockProps {
  readonly stateMachineName: string;
  /** The stamp table: the lock is its item `BACKFILL_RUN_LOCK_KEY`. */
  readonly table: TableV2;
  /** The state machine's timeout: no run holds the lock longer. */
  readonly runTimeout: Duration;
}

/**
 * The first states of a backfill run: a run starts exporting only while it holds the run lock,
 * one item in the stamp table naming the run (`run_arn`). Another run still in progress (a slow
 * export, a run started by hand beside the schedule) makes this one end at once, succeeded, in
 * `SkippedAnotherRunInProgress`, naming the holder. Otherwise it goes on to `next` with its input
 * unchanged.
 *
 * Strict because DynamoDB applies a write's condition to the item atomically: of two runs
 * putting the lock at once, exactly one write succeeds, and the other gets
 * ConditionalCheckFailedException ("Condition expressions", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html;
 * PutItem, https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html).
 *
 * - `TakeRunLock` puts the item if there is none (`attribute_not_exists(user_id)`), or if it
 *   names this run already (a retried put whose first answer was lost).
 * - Refused, `ReadRunLock` reads the holder (ConsistentRead, so the write that refused us is
 *   seen) and `DescribeLockHolder` asks Step Functions for its status. Only a holder positively
 *   finished lets `TakeOverRunLock` replace the item, on condition it still names that holder:
 *   of two runs taking over at once, one wins, the other skips.
 * - Anything else skips: the holder RUNNING (or PENDING_REDRIVE), no holder named, any error
 *   reading the lock or describing the holder (after retries). Skipping is the safe answer: no
 *   second export; the next scheduled run tries again. An error of `TakeRunLock` itself other
 *   than the refusal fails the run, so the BackfillRunFailed alarm names it.
 *
 * No step releases the lock: a run can end anywhere (a failure, the 12 h timeout, StopExecution),
 * so the next run takes it over from a finished holder instead. DescribeExecution is eventually
 * consistent (its API reference, https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html):
 * a holder just finished may still read RUNNING (this run skips), a holder just started may not
 * be found yet (skips). Neither lets two runs export. A status never goes back from finished to
 * RUNNING except by a redrive (https://docs.aws.amazon.com/step-functions/latest/dg/redrive-executions.html),
 * which resumes at the failed state and does not take the lock again: redrive a backfill only
 * when no other run is going, or start a new run instead.
 *
 * `expires_at` (the table's TTL attribute) lies past the run's timeout, from its start time in
 * the context object (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html).
 * TTL deletes an expired item "within a few days", and until then reads and conditions still see
 * it (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html): it
 * only tidies up, the lock never trusts it.
 *
 * The guard's states are JSONata states inside the JSONPath state machine, as Amazon States
 * Language allows ("State machine structure": a state may set QueryLanguage to JSONata). The AWS
 * SDK integrations take PascalCase parameters (`TableName`, `ExecutionArn`) and DynamoDB
 * attribute values as on the wire (`{ S: ... }`). The JSONata variables `holder`,
 * `holderStatus` and `lockError` (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html)
 * are set on every path to the skip, so its output can name them.
 */
export function singleRunGuard(scope: Construct, props: RunLockProps, next: IChainable) {
  const stack = Stack.of(scope);
  const { table } = props;
  const self = '{% $states.context.Execution.Id %}';
  const startSeconds = '$floor($toMillis($states.context.Execution.StartTime) / 1000)';
  const startedAt = `{% $string(${startSeconds}) %}`;
  const expiresAt = `{% $string(${startSeconds} + ${
    props.runTimeout.toSeconds() + LOCK_MARGIN_SECONDS
  }) %}`;
  const lockKey = { [STAMP_TABLE.partitionKey]: { S: BACKFILL_RUN_LOCK_KEY } };
  const lockItem = {
    ...lockKey,
    run_arn: { S: self },
    started_at: { S: '{% $states.context.Execution.StartTime %}' },
    [STAMP_TABLE.ttlAttribute]: { N: expiresAt },
  };
  // The run's own input goes on to the export, as if the guard were not there.
  const keepInput = '{% $states.input %}';
  const lockError = { lockError: '{% $states.errorOutput.Error %}' };
  const transient = {
    errors: ['States.ALL'],
    maxAttempts: 3,
    interval: Duration.seconds(2),
    backoffRate: 2,
  };

  const skipped = Succeed.jsonata(scope, SKIPPED_STATE, {
    comment: 'Another backfill run holds the run lock: this one did nothing.',
    outputs: {
      skipped: 'another backfill run holds the run lock',
      lockHolder: '{% $holder %}',
      lockHolderStatus: '{% $holderStatus %}',
      lockError: '{% $lockError %}',
    },
  });

  // A lock that cannot be read, or names a run that cannot be described, is a fault, not a
  // reason to skip quietly: skipping would end every run as succeeded, and nobody would know
  // the backfill had stopped. The run fails, and the BackfillRunFailed alarm names it.
  const unreadable = Fail.jsonata(scope, 'RunLockUnreadable', {
    comment: 'The run lock or the run it names could not be read: this run fails, alarmed.',
    error: 'BackfillRunLockUnreadable',
    cause:
      "{% 'the run lock (#backfill#run in the stamp table) or the run it names could not be read: ' & ($lockError ? $lockError : 'the lock names no run') %}",
  });

  const take = lockCall(scope, 'TakeRunLock', table, {
    action: 'putItem',
    parameters: {
      TableName: table.tableName,
      Item: lockItem,
      // Also a lock past its expiry: no run outlives its timeout (unless redriven), so its holder
      // is gone whatever DescribeExecution says, and TTL may take days to delete the item.
      ConditionExpression: `attribute_not_exists(${STAMP_TABLE.partitionKey}) OR run_arn = :self OR ${STAMP_TABLE.ttlAttribute} < :now`,
      ExpressionAttributeValues: { ':self': { S: self }, ':now': { N: startedAt } },
    },
    outputs: keepInput,
    comment: 'Puts the run lock naming this run, unless another run holds it.',
  })
    // A refusal is an answer, not a fault: straight to the catcher.
    .addRetry({ errors: LOCK_TAKEN_ERRORS, maxAttempts: 0 })
    .addRetry(transient);

  const read = lockCall(scope, 'ReadRunLock', table, {
    action: 'getItem',
    parameters: { TableName: table.tableName, Key: lockKey, ConsistentRead: true },
    assign: {
      holder: '{% $exists($states.result.Item.run_arn.S) ? $states.result.Item.run_arn.S : null %}',
    },
    outputs: keepInput,
    comment: 'Reads which run holds the run lock.',
  })
    .addRetry(transient)
    .addCatch(unreadable, { outputs: keepInput, assign: lockError });

  const describe = CallAwsService.jsonata(scope, 'DescribeLockHolder', {
    service: 'sfn',
    action: 'describeExecution',
    iamAction: 'states:DescribeExecution',
    // The runs of this state machine only (an execution ARN is `...:execution:<name>:<id>`).
    iamResources: [
      stack.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${props.stateMachineName}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    ],
    parameters: { ExecutionArn: '{% $holder %}' },
    assign: { holderStatus: '{% $states.result.Status %}' },
    outputs: keepInput,
    comment: 'Asks whether the run holding the lock has finished.',
  })
    .addRetry(transient)
    .addCatch(unreadable, { outputs: keepInput, assign: lockError });

  const takeOver = lockCall(scope, 'TakeOverRunLock', table, {
    action: 'putItem',
    parameters: {
      TableName: table.tableName,
      Item: lockItem,
      ConditionExpression: 'run_arn = :holder OR run_arn = :self',
      ExpressionAttributeValues: { ':holder': { S: '{% $holder %}' }, ':self': { S: self } },
    },
    outputs: keepInput,
    comment: 'Takes the run lock from a finished run, unless another run took it first.',
  })
    .addRetry({ errors: LOCK_TAKEN_ERRORS, maxAttempts: 0 })
    .addRetry(transient)
    // Another run took the lock over first: it exports, this one skips. Anything else fails.
    .addCatch(skipped, { errors: LOCK_TAKEN_ERRORS, outputs: keepInput, assign: lockError })
    .addCatch(unreadable, { outputs: keepInput, assign: lockError });

  take.addCatch(read, {
    errors: LOCK_TAKEN_ERRORS,
    outputs: keepInput,
    assign: { holder: null, holderStatus: null, lockError: null },
  });
  read.next(
    Choice.jsonata(scope, 'RunLockNamesAHolder?', { outputs: keepInput })
      .when(Condition.jsonata('{% $holder = null %}'), unreadable)
      .otherwise(
        describe.next(
          Choice.jsonata(scope, 'LockHolderFinished?', { outputs: keepInput })
            .when(
              Condition.jsonata(`{% $holderStatus in ${JSON.stringify(FINISHED_STATUSES)} %}`),
              takeOver.next(next),
            )
            .otherwise(skipped),
        ),
      ),
  );
  return take.next(next);
}

type LockCallProps = Pick<
  CallAwsServiceJsonataProps,
  'action' | 'parameters' | 'assign' | 'outputs' | 'comment'
>;

/**
 * A DynamoDB call on the lock item: its IAM statement allows the action on the stamp table
 * for the lock's key only (`dynamodb:LeadingKeys`, "Using IAM policy conditions for
 * fine-grained access control", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html).
 * PutItem and GetItem always carry the key, so `ForAllValues` never meets an empty set.
 */
function lockCall(scope: Construct, id: string, table: TableV2, props: LockCallProps) {
  const iamAction = props.action === 'putItem' ? 'dynamodb:PutItem' : 'dynamodb:GetItem';
  return new LockItemCall(scope, id, {
    ...props,
    service: 'dynamodb',
    iamAction,
    iamResources: [table.tableArn],
  });
}

class LockItemCall extends CallAwsService {
  constructor(scope: Construct, id: string, props: CallAwsServiceJsonataProps) {
    super(scope, id, { ...props, queryLanguage: QueryLanguage.JSONATA });
    for (const statement of this.taskPolicies ?? []) {
      statement.addCondition('ForAllValues:StringEquals', {
        'dynamodb:LeadingKeys': [BACKFILL_RUN_LOCK_KEY],
      });
    }
  }
}
