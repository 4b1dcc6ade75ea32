import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import { Choice, Condition, type IChainable, Succeed } from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { ConfigError } from '#shared/config.ts';

/** The state that ends a run started while another was still going, as succeeded. */
export const SKIPPED_STATE = 'SkippedAnotherRunInProgress';

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
 * The first states of a backfill run: another run still in progress (a slow export, a run
 * started by hand beside the schedule) makes this one end at once, succeeded, in
 * `SkippedAnotherRunInProgress`, so two runs never export and enqueue the tenant at the same
 * time. Otherwise it goes on to `next` with its input unchanged.
 *
 * It asks `states:ListExecutions` for this state machine's RUNNING executions. The call goes
 * through the AWS SDK integration (`arn:aws:states:::aws-sdk:sfn:listExecutions`), whose
 * parameters and results are in PascalCase (`StateMachineArn`, `StatusFilter`;
 * `Executions[].ExecutionArn`), as the Step Functions developer guide says ("Learning to use
 * AWS service SDK integrations", https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html;
 * the result fields are those of ExecutionListItem in the API reference,
 * https://docs.aws.amazon.com/step-functions/latest/apireference/API_ExecutionListItem.html).
 *
 * ListExecutions is eventually consistent ("best effort", its API reference says): the run
 * asking may or may not be listed yet, so the check counts only executions other than
 * `$$.Execution.Id` (its own ARN). So the guard is best effort too: two runs started within
 * seconds of each other may each see the other and both skip (no run that day), or each miss the
 * other and both run. Both running costs a second export and queue pass, and at most one more
 * profile write per changed user (the second message sees the day's stamp, so no second CRM
 * lookup); no user is lost either way. A run that has just ended may still be listed as RUNNING
 * for a moment, and the new one skips.
 *
 * The two guard states are JSONata states inside the JSONPath state machine, as Amazon States
 * Language allows ("State machine structure": a JSONPath state machine's states may set
 * QueryLanguage to JSONata), because JSONata can filter the list by a value from the context
 * object, which a JSONPath filter cannot.
 */
export function singleRunGuard(scope: Construct, stateMachineName: string, next: IChainable) {
  const stack = Stack.of(scope);
  const ownArn = stack.formatArn({
    service: 'states',
    resource: 'stateMachine',
    resourceName: stateMachineName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  const check = CallAwsService.jsonata(scope, 'CheckNoOtherRun', {
    service: 'sfn',
    action: 'listExecutions',
    iamAction: 'states:ListExecutions',
    iamResources: [ownArn],
    parameters: {
      StateMachineArn: '{% $states.context.StateMachine.Id %}',
      StatusFilter: 'RUNNING',
      // One other run is enough to skip; a few more cover this run being listed too.
      MaxResults: 10,
    },
    // `[...]` keeps the list a list when one ARN or none is left after the filter.
    assign: {
      otherRuns:
        '{% [$states.result.Executions[ExecutionArn != $states.context.Execution.Id].ExecutionArn] %}',
    },
    // The run's own input goes on to the export, as if the guard were not there.
    outputs: '{% $states.input %}',
    comment:
      'Lists the RUNNING executions of this state machine; another than this one makes this run skip.',
  }).addRetry({
    errors: ['States.ALL'],
    maxAttempts: 3,
    interval: Duration.seconds(5),
    backoffRate: 2,
  });
  const skipped = Succeed.jsonata(scope, SKIPPED_STATE, {
    comment: 'Another backfill run was in progress: this one did nothing.',
    outputs: {
      skipped: 'another backfill run was in progress',
      runningExecutions: '{% $otherRuns %}',
    },
  });
  return check.next(
    Choice.jsonata(scope, 'AnotherRunInProgress?', { outputs: '{% $states.input %}' })
      .when(Condition.jsonata('{% $count($otherRuns) > 0 %}'), skipped)
      .otherwise(next),
  );
}
