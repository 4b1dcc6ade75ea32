import {
  DeleteItemCommand,
  type DynamoDBClient,
  DynamoDBServiceException,
  GetItemCommand,
  type GetItemCommandInput,
  PutItemCommand,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BACKFILL_RUN_LOCK_KEY } from '#shared/names.ts';
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from '#stand-ins/embedded-dynamodb.ts';
import { ensureStampTable } from '#stand-ins/stamp-table.ts';
import { type Integration, type Outcome, runStates, StatesError } from './jsonata-states.ts';
import { DEPLOYABLE, onlyResource, stateMachineDefinition, synth } from './synth-stack.ts';

/**
 * One backfill run at a time: the run lock's states as synthesized, run by their own JSONata
 * expressions, retriers and catchers (jsonata-states.ts), their DynamoDB calls sent through the
 * real @aws-sdk/client-dynamodb to dynalite, which applies the conditions as DynamoDB does.
 * DescribeExecution answers from a table of runs and their statuses.
 */

const TABLE = 'run-lock';
const START = '2026-12-01T02:00:00.123Z';
const runArn = (id: string) =>
  `arn:aws:states:eu-west-1:123456789012:execution:CrmSyncTest-backfill:${id}`;
const LOCK_KEY = { user_id: { S: BACKFILL_RUN_LOCK_KEY } };
const CONDITION_REFUSED = ['DynamoDb.ConditionalCheckFailedException'];

let template: Template;
let definition: ReturnType<typeof stateMachineDefinition>;
let db: EmbeddedDynamoDb;
let client: DynamoDBClient;
beforeAll(async () => {
  template = synth(DEPLOYABLE);
  definition = stateMachineDefinition(template);
  db = await startEmbeddedDynamoDb();
  client = db.client();
  await ensureStampTable(client, TABLE);
}, 60_000);
afterAll(async () => {
  client?.destroy();
  await db?.close();
});
beforeEach(async () => {
  await client.send(new DeleteItemCommand({ TableName: TABLE, Key: LOCK_KEY }));
});

/** Step Functions' runs of this state machine and their DescribeExecution status. */
type Runs = Map<string, string>;

/**
 * The AWS SDK integrations the guard calls. A DynamoDB error is named as Step Functions names
 * an aws-sdk integration's errors: `DynamoDb.` and the exception's name ("Learning to use AWS
 * service SDK integrations", https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html).
 */
function integration(runs: Runs, tableName = TABLE): Integration {
  return async (resource, args) => {
    if (resource.endsWith(':aws-sdk:dynamodb:putItem') || resource.endsWith(':getItem')) {
      const input = { ...args, TableName: tableName };
      try {
        const { $metadata, ...result } = resource.endsWith(':putItem')
          ? await client.send(new PutItemCommand(input as unknown as PutItemCommandInput))
          : await client.send(new GetItemCommand(input as unknown as GetItemCommandInput));
        return result;
      } catch (error) {
        if (!(error instanceof DynamoDBServiceException)) throw error;
        throw new StatesError(`DynamoDb.${error.name}`, error.message);
      }
    }
    if (resource.endsWith(':aws-sdk:sfn:describeExecution')) {
      const status = runs.get(String(args.ExecutionArn));
      if (status === undefined) throw new StatesError('Sfn.ExecutionDoesNotExistException');
      if (status === 'AccessDenied') throw new StatesError('Sfn.AccessDeniedException');
      return { ExecutionArn: args.ExecutionArn, Status: status, StartDate: START };
    }
    throw new Error(`the guard called ${resource}`);
  };
}

/** Starts run `id` (RUNNING from then on) and runs it until it exports or ends. */
function start(
  id: string,
  runs: Runs,
  options: { tableName?: string; calls?: Array<{ state: string; resource: string }> } = {},
): Promise<Outcome> {
  const arn = runArn(id);
  runs.set(arn, 'RUNNING');
  return runStates(definition.States, {
    startAt: definition.StartAt,
    until: ['StartExport'],
    input: { startedBy: id },
    context: { Execution: { Id: arn, StartTime: START } },
    integration: integration(runs, options.tableName),
    ...(options.calls ? { calls: options.calls } : {}),
  });
}

const exported = (id: string) => ({ reached: 'StartExport', input: { startedBy: id } });
const skipped = (holder: string | null, status: string | null, error: string | null = null) => ({
  succeeded: 'SkippedAnotherRunInProgress',
  output: {
    skipped: 'another backfill run holds the run lock',
    lockHolder: holder,
    lockHolderStatus: status,
    lockError: error,
  },
});
const lock = async () =>
  (await client.send(new GetItemCommand({ TableName: TABLE, Key: LOCK_KEY, ConsistentRead: true })))
    .Item;

describe('one backfill run at a time', () => {
  it('a run finding the lock free takes it and exports with its own input; the lock outlives its timeout', async () => {
    expect(await start('a', new Map())).toEqual(exported('a'));
    const item = await lock();
    expect(item?.run_arn?.S).toBe(runArn('a'));
    expect(item?.started_at?.S).toBe(START);
    const { TimeoutSeconds } = definition as unknown as { TimeoutSeconds: number };
    expect(TimeoutSeconds).toBe(12 * 3600);
    const startSeconds = Math.floor(Date.parse(START) / 1000);
    expect(Number(item?.expires_at?.N) - startSeconds).toBe(12 * 3600 + 3600);
  });

  it('a run finding the lock held by a RUNNING run skips as succeeded, naming the holder, after one refused put', async () => {
    const runs: Runs = new Map();
    await start('a', runs);
    const calls: Array<{ state: string; resource: string }> = [];
    expect(await start('b', runs, { calls })).toEqual(skipped(runArn('a'), 'RUNNING'));
    // The refusal is an answer: not retried.
    expect(calls.map((c) => c.state)).toEqual(['TakeRunLock', 'ReadRunLock', 'DescribeLockHolder']);
    expect((await lock())?.run_arn?.S).toBe(runArn('a'));
    // Nor does a run about to be redriven give the lock away.
    runs.set(runArn('a'), 'PENDING_REDRIVE');
    expect(await start('c', runs)).toEqual(skipped(runArn('a'), 'PENDING_REDRIVE'));
  });

  it('takes the lock over from a run that SUCCEEDED, FAILED, TIMED_OUT or was ABORTED', async () => {
    for (const status of ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']) {
      const runs: Runs = new Map();
      await start('a', runs);
      runs.set(runArn('a'), status);
      expect(await start('b', runs), status).toEqual(exported('b'));
      expect((await lock())?.run_arn?.S, status).toBe(runArn('b'));
      await client.send(new DeleteItemCommand({ TableName: TABLE, Key: LOCK_KEY }));
    }
  });

  it('fails the run, so BackfillRunFailed names it, when the holder cannot be described after retries (never a quiet skip)', async () => {
    const runs: Runs = new Map();
    await start('a', runs);
    for (const [status, error] of [
      [undefined, 'Sfn.ExecutionDoesNotExistException'],
      ['AccessDenied', 'Sfn.AccessDeniedException'],
    ] as const) {
      if (status === undefined) runs.delete(runArn('a'));
      else runs.set(runArn('a'), status);
      const calls: Array<{ state: string; resource: string }> = [];
      expect(await start('b', runs, { calls })).toEqual({
        failed: 'RunLockUnreadable',
        error: 'BackfillRunLockUnreadable',
        cause: `the run lock (#backfill#run in the stamp table) or the run it names could not be read: ${error}`,
      });
      expect(calls.filter((c) => c.state === 'DescribeLockHolder')).toHaveLength(4);
      expect((await lock())?.run_arn?.S).toBe(runArn('a'));
    }
  });

  it('fails the run when the lock names no run', async () => {
    await client.send(new PutItemCommand({ TableName: TABLE, Item: LOCK_KEY }));
    expect(await start('b', new Map())).toMatchObject({
      failed: 'RunLockUnreadable',
      cause: expect.stringMatching(/the lock names no run$/),
    });
  });

  it('takes a lock past its expiry, whatever its holder is said to be: no run outlives its timeout', async () => {
    const startSeconds = Math.floor(Date.parse(START) / 1000);
    const runs: Runs = new Map([[runArn('ghost'), 'RUNNING']]);
    for (const [expiresAt, outcome] of [
      [startSeconds - 1, exported('b')],
      [startSeconds + 1, skipped(runArn('ghost'), 'RUNNING')],
    ] as const) {
      await client.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: {
            ...LOCK_KEY,
            run_arn: { S: runArn('ghost') },
            expires_at: { N: String(expiresAt) },
          },
        }),
      );
      expect(await start('b', runs)).toEqual(outcome);
      runs.delete(runArn('b'));
    }
  });

  it('a put retried after its answer was lost finds the lock naming this run and goes on', async () => {
    const runs: Runs = new Map();
    await start('a', runs);
    // Run a again, as if TakeRunLock's first put had landed and its answer had not.
    expect(await start('a', runs)).toEqual(exported('a'));
  });

  it('fails the run, after retries, when the lock cannot be put for another reason (so the alarm names it)', async () => {
    const calls: Array<{ state: string; resource: string }> = [];
    expect(await start('a', new Map(), { tableName: 'no-such-table', calls })).toEqual({
      failed: 'TakeRunLock',
      error: 'DynamoDb.ResourceNotFoundException',
    });
    expect(calls).toHaveLength(4);
  });

  it('of two runs started at once, exactly one exports: the other skips naming it', async () => {
    for (let round = 0; round < 10; round++) {
      await client.send(new DeleteItemCommand({ TableName: TABLE, Key: LOCK_KEY }));
      const runs: Runs = new Map();
      const [a, b] = await Promise.all([start('a', runs), start('b', runs)]);
      const winner = (await lock())?.run_arn?.S;
      const outcomes = [a, b].filter((o) => 'reached' in o);
      expect(outcomes, `round ${round}`).toHaveLength(1);
      const loser = winner === runArn('a') ? b : a;
      expect(loser).toEqual(skipped(winner as string, 'RUNNING'));
    }
  });

  it('of two runs taking over from a finished run at once, exactly one exports', async () => {
    for (let round = 0; round < 10; round++) {
      await client.send(new DeleteItemCommand({ TableName: TABLE, Key: LOCK_KEY }));
      const runs: Runs = new Map();
      await start('done', runs);
      runs.set(runArn('done'), 'SUCCEEDED');
      const outcomes = await Promise.all([start('a', runs), start('b', runs)]);
      const winner = (await lock())?.run_arn?.S;
      expect(
        outcomes.filter((o) => 'reached' in o),
        `round ${round}`,
      ).toHaveLength(1);
      expect([runArn('a'), runArn('b')]).toContain(winner);
      // The loser skipped: its takeover refused, or the winner already holding the lock.
      const loser = outcomes.find((o) => 'succeeded' in o);
      expect(loser).toMatchObject({ succeeded: 'SkippedAnotherRunInProgress' });
    }
  });
});

describe('the run lock as synthesized', () => {
  it('puts the lock in the stamp table, refusal caught, and takes it over only by condition', () => {
    const { StartAt, States } = definition;
    expect(StartAt).toBe('TakeRunLock');
    expect(States.TakeRunLock).toMatchObject({
      QueryLanguage: 'JSONata',
      Resource: 'arn:<token>:states:::aws-sdk:dynamodb:putItem',
      Arguments: {
        Item: {
          user_id: { S: '#backfill#run' },
          run_arn: { S: '{% $states.context.Execution.Id %}' },
        },
        ConditionExpression:
          'attribute_not_exists(user_id) OR run_arn = :self OR expires_at < :now',
      },
      Retry: [{ ErrorEquals: expect.arrayContaining(CONDITION_REFUSED), MaxAttempts: 0 }, {}],
      Catch: [{ ErrorEquals: expect.arrayContaining(CONDITION_REFUSED), Next: 'ReadRunLock' }],
      Output: '{% $states.input %}',
      Next: 'StartExport',
    });
    expect(States.ReadRunLock).toMatchObject({
      Resource: 'arn:<token>:states:::aws-sdk:dynamodb:getItem',
      Arguments: { Key: { user_id: { S: '#backfill#run' } }, ConsistentRead: true },
    });
    expect(States.DescribeLockHolder).toMatchObject({
      Resource: 'arn:<token>:states:::aws-sdk:sfn:describeExecution',
      Arguments: { ExecutionArn: '{% $holder %}' },
      Catch: [{ ErrorEquals: ['States.ALL'], Next: 'RunLockUnreadable' }],
    });
    expect(States['LockHolderFinished?']).toMatchObject({
      Choices: [{ Next: 'TakeOverRunLock' }],
      Default: 'SkippedAnotherRunInProgress',
    });
    expect(States.TakeOverRunLock).toMatchObject({
      Arguments: { ConditionExpression: 'run_arn = :holder OR run_arn = :self' },
      Catch: [
        {
          ErrorEquals: expect.arrayContaining(CONDITION_REFUSED),
          Next: 'SkippedAnotherRunInProgress',
        },
        { ErrorEquals: ['States.ALL'], Next: 'RunLockUnreadable' },
      ],
      Next: 'StartExport',
    });
    expect(States.SkippedAnotherRunInProgress).toMatchObject({ Type: 'Succeed' });
    expect(States.RunLockUnreadable).toMatchObject({
      Type: 'Fail',
      Error: 'BackfillRunLockUnreadable',
    });
    // Each DynamoDB call names the stack's stamp table.
    const table = Object.keys(template.findResources('AWS::DynamoDB::GlobalTable'))[0];
    const parts = onlyResource(template, 'AWS::StepFunctions::StateMachine').Properties
      .DefinitionString['Fn::Join'][1] as unknown[];
    const tableRefs = parts.flatMap((part, i) =>
      JSON.stringify(part) === JSON.stringify({ Ref: table }) ? [String(parts[i - 1])] : [],
    );
    expect(tableRefs).toHaveLength(3);
    for (const before of tableRefs) expect(before.endsWith('"TableName":"')).toBe(true);
  });

  it("may put and get the lock item only, and describe this state machine's runs only", () => {
    const stateMachine = onlyResource(template, 'AWS::StepFunctions::StateMachine');
    const role = stateMachine.Properties.RoleArn['Fn::GetAtt'][0];
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);
    const table = Object.keys(template.findResources('AWS::DynamoDB::GlobalTable'))[0];
    expect(statements.filter((s) => JSON.stringify(s.Action).includes('dynamodb:'))).toEqual([
      {
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        Condition: {
          'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['#backfill#run'] },
        },
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [table, 'Arn'] },
      },
    ]);
    expect(statements.filter((s) => JSON.stringify(s.Action).includes('states:'))).toEqual([
      {
        Action: 'states:DescribeExecution',
        Effect: 'Allow',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':states:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':execution:CrmSyncTest-backfill:*',
            ],
          ],
        },
      },
    ]);
  });
});
