import { Stack } from 'aws-cdk-lib';
import { type ILogGroup, QueryDefinition, QueryString } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface LogQueriesProps {
  /** The sync function's log group: one `request` line per request. */
  readonly api: ILogGroup;
  /** The CRM events function's: one `request` line per POST /v1/crm-events. */
  readonly crmEvents: ILogGroup;
  /** The backfill worker's: `backfill batch` lines, a `backfill user failed` line per failure. */
  readonly worker: ILogGroup;
  /** The orchestrator's: one `backfill run` line per run. */
  readonly orchestrator: ILogGroup;
}

/** What the operator replaces in the saved query before running it. */
export const USER_ID_PLACEHOLDER = 'REPLACE_WITH_AUTH0_USER_ID';

/** Outcomes of a `request` line that are answers, not failures (shared/http/request-log.ts). */
// `user_not_found` is an operator's look-up of someone the service never saw, not a failure.
// `ambiguous_match` is answered (not_found) but left among the failures: the CRM holds duplicate
// contacts for the user's key, which someone must merge.
const ANSWERED = [
  'synced',
  'cached',
  'not_found',
  'health',
  'explained',
  'user_not_found',
  'events_handled',
];

/**
 * CloudWatch Logs Insights saved queries (Logs Insights > Saved queries), in a folder named after
 * the stack so that two stages in one account keep theirs apart. The lines are the services'
 * Powertools JSON lines, whose fields Logs Insights discovers by name: `message` is the line's
 * name, the others are the fields the README's Operations section lists.
 */
export class LogQueries extends Construct {
  constructor(scope: Construct, id: string, props: LogQueriesProps) {
    super(scope, id);
    const folder = Stack.of(this).stackName;
    const all = [props.api, props.worker, props.orchestrator];

    // A user's requests and backfill failures, between the runs that were going on then.
    new QueryDefinition(this, 'UserHistory', {
      queryDefinitionName: `${folder}/one user's history (API, backfill worker, orchestrator)`,
      logGroups: all,
      queryString: new QueryString({
        fields: [
          '@timestamp',
          '@log',
          'message',
          'outcome',
          'http_status',
          'route',
          'user_status',
          'crm_fault',
          'fault',
          'receive_count',
          'job_id',
          'enqueued',
        ],
        filterStatements: [`user_id = "${USER_ID_PLACEHOLDER}" or message = "backfill run"`],
        sort: '@timestamp asc',
        limit: 1000,
      }),
    });

    // Run it over the last 24 hours (the time range is picked when running a saved query).
    new QueryDefinition(this, 'FailuresByCode', {
      queryDefinitionName: `${folder}/failures by code (run over the last 24 h)`,
      logGroups: [props.api, props.crmEvents, props.worker],
      queryString: new QueryString({
        // A request's code is its outcome, with why the CRM gave no answer (crm_fault) or the
        // class of our own fault; a worker failure's code is the error's class (fault).
        fields: [
          'coalesce(outcome, fault) as code',
          'coalesce(crm_fault, operation, fault) as detail',
        ],
        filterStatements: [
          `(message = "request" and outcome not in [${ANSWERED.map((o) => `"${o}"`).join(', ')}]) or message = "backfill user failed"`,
        ],
        statsStatements: ['count(*) as failures by message, code, detail'],
        sort: 'failures desc',
      }),
    });
  }
}
