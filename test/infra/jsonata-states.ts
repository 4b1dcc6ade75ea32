import jsonata from 'jsonata';

/**
 * Runs the JSONata states of a synthesized state machine definition the way Step Functions does,
 * for the subset the backfill's run lock uses (Task, Choice, Succeed, Fail), until the run reaches a
 * state named in `until` or ends. Step Functions does not run on this machine; this follows the
 * developer guide's rules, each cited where it is applied, so that the synthesized expressions,
 * retriers and catchers are what is tested, not a retelling of them.
 */

/** A Task's failure: Step Functions' `Error` and `Cause` ("Handling errors in workflows"). */
export class StatesError extends Error {
  constructor(
    readonly error: string,
    override readonly cause = '',
  ) {
    super(`${error}: ${cause}`);
  }
}

/** What a Task state's Resource does with its evaluated Arguments: a result, or a StatesError. */
export type Integration = (resource: string, args: Record<string, unknown>) => Promise<unknown>;

export type Outcome =
  | { readonly reached: string; readonly input: unknown }
  | { readonly succeeded: string; readonly output: unknown }
  | { readonly failed: string; readonly error: string; readonly cause?: string };

interface Catcher {
  ErrorEquals: string[];
  Next: string;
  Output?: unknown;
  Assign?: Record<string, unknown>;
}
interface Retrier {
  ErrorEquals: string[];
  MaxAttempts?: number;
}
interface JsonataState {
  Type: string;
  Next?: string;
  Resource?: string;
  Arguments?: unknown;
  Output?: unknown;
  Assign?: Record<string, unknown>;
  Retry?: Retrier[];
  Catch?: Catcher[];
  Choices?: Array<{ Condition: string; Next: string }>;
  Default?: string;
  Error?: string;
  Cause?: unknown;
}

export interface RunOptions {
  readonly startAt: string;
  readonly until: readonly string[];
  readonly input: unknown;
  /** The context object's fields the states read (`$states.context`). */
  readonly context: Record<string, unknown>;
  readonly integration: Integration;
  /** Every Task call, for tests that count retries. */
  readonly calls?: Array<{ state: string; resource: string }>;
}

/**
 * A JSONata field: a string `{% expression %}` is evaluated, an object or array field by field,
 * anything else is itself ("Transforming data with JSONata in Step Functions",
 * https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html).
 */
async function evaluate(field: unknown, bindings: Record<string, unknown>): Promise<unknown> {
  if (typeof field === 'string') {
    const expression = /^\{%([\s\S]*)%\}$/.exec(field)?.[1];
    if (expression === undefined) return field;
    const value = await jsonata(expression.trim()).evaluate({}, bindings);
    // Stricter than needed: the guard never relies on what Step Functions makes of an
    // expression that yields nothing, so such an expression fails here.
    if (value === undefined) throw new StatesError('States.QueryEvaluationError', expression);
    return value;
  }
  if (Array.isArray(field)) return Promise.all(field.map((item) => evaluate(item, bindings)));
  if (field !== null && typeof field === 'object') {
    const entries = await Promise.all(
      Object.entries(field).map(async ([key, value]) => [key, await evaluate(value, bindings)]),
    );
    return Object.fromEntries(entries);
  }
  return field;
}

/** `States.ALL` matches any error; otherwise the name exactly ("Handling errors"). */
const matches = (errorEquals: string[], error: string) =>
  errorEquals.includes(error) || errorEquals.includes('States.ALL');

export async function runStates(
  states: Record<string, unknown>,
  options: RunOptions,
): Promise<Outcome> {
  // Workflow variables live for the whole run ("Passing data between states with variables",
  // https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html).
  const variables: Record<string, unknown> = {};
  let name = options.startAt;
  let input = options.input;
  for (;;) {
    if (options.until.includes(name)) return { reached: name, input };
    const state = states[name] as JsonataState | undefined;
    if (state === undefined) throw new Error(`no state ${name}`);
    const bindings = (extra: Record<string, unknown> = {}) => ({
      ...variables,
      states: { input, context: options.context, ...extra },
    });
    // Every Assign expression sees the variables as they were before the state: they are
    // evaluated together, then assigned (workflow-variables.html).
    const assign = async (fields: Record<string, unknown> | undefined, extra = {}) => {
      const values = await evaluate(fields ?? {}, bindings(extra));
      Object.assign(variables, values);
    };
    if (state.Type === 'Fail') {
      const cause = state.Cause === undefined ? undefined : await evaluate(state.Cause, bindings());
      return { failed: name, error: String(state.Error), cause: String(cause) };
    }
    if (state.Type === 'Succeed') {
      return { succeeded: name, output: await evaluate(state.Output ?? input, bindings()) };
    }
    if (state.Type === 'Choice') {
      let next = state.Default;
      for (const choice of state.Choices ?? []) {
        if ((await evaluate(choice.Condition, bindings())) === true) {
          next = choice.Next;
          break;
        }
      }
      if (next === undefined) return { failed: name, error: 'States.NoChoiceMatched' };
      input = await evaluate(state.Output ?? input, bindings());
      name = next;
      continue;
    }
    if (state.Type !== 'Task') throw new Error(`${name}: ${state.Type} states are not modelled`);
    const outcome = await runTask(name, state, options, bindings);
    if ('error' in outcome) {
      // The first catcher whose ErrorEquals matches; none: the run fails ("Handling errors").
      const catcher = state.Catch?.find((c) => matches(c.ErrorEquals, outcome.error.error));
      if (catcher === undefined) return { failed: name, error: outcome.error.error };
      const errorOutput = { Error: outcome.error.error, Cause: outcome.error.cause };
      const output = await evaluate(catcher.Output ?? errorOutput, bindings({ errorOutput }));
      await assign(catcher.Assign, { errorOutput });
      input = output;
      name = catcher.Next;
      continue;
    }
    const output = await evaluate(state.Output ?? outcome.result, bindings(outcome));
    await assign(state.Assign, outcome);
    input = output;
    name = state.Next as string;
  }
}

/**
 * One Task with its retriers: an error is retried by the first retrier whose ErrorEquals
 * matches, at most MaxAttempts times (3 when unset; 0: never), and then goes to the catchers
 * ("Handling errors": retriers are checked in order, the first match applies). Intervals are
 * not waited for.
 */
async function runTask(
  name: string,
  state: JsonataState,
  options: RunOptions,
  bindings: () => Record<string, unknown>,
): Promise<{ result: unknown } | { error: StatesError }> {
  const retries = new Map<Retrier, number>();
  for (;;) {
    try {
      const args = (await evaluate(state.Arguments ?? {}, bindings())) as Record<string, unknown>;
      options.calls?.push({ state: name, resource: String(state.Resource) });
      return { result: await options.integration(String(state.Resource), args) };
    } catch (error) {
      if (!(error instanceof StatesError)) throw error;
      const retrier = state.Retry?.find((r) => matches(r.ErrorEquals, error.error));
      const done = retrier === undefined ? 0 : (retries.get(retrier) ?? 0);
      if (retrier === undefined || done >= (retrier.MaxAttempts ?? 3)) return { error };
      retries.set(retrier, done + 1);
    }
  }
}
