import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  SingleValueWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { metricsNamespace } from '#shared/names.ts';

export interface MonitoringProps {
  /**
   * The sync function: its invocations are the sync API's requests. The HTTP API's own counts
   * also hold POST /v1/crm-events, whose traffic must not dilute (or raise) the logins' rates.
   */
  readonly sync: IFunction;
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly deadLetterQueues?: Readonly<Record<string, IQueue>>;
  /** The backfill's runs and the queue of users they fill. */
  readonly backfill?: { readonly runs: IStateMachine; readonly users: IQueue };
  readonly alarmEmail?: string | undefined;
  /** POST /v1/crm-events's queue of re-syncs: its failures, refusals and waits are alarmed on. */
  readonly crmEvents?: { readonly resyncs: IQueue };
}

const FIVE_MINUTES = Duration.minutes(5);
const TEN_MINUTES = Duration.minutes(10);

/**
 * The backfill runs daily and SQS keeps its messages 4 days (infra/constructs/backfill.ts):
 * a message older than a day was not worked before the next run, and at 4 days it is deleted
 * unworked. One day leaves three to act.
 */
const BACKFILL_MESSAGE_AGE_ALARM = Duration.days(1);

/** Alarms to an optional e-mail, and one dashboard for logins, the CRM and the backfill. */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Alarms', {
      // The sender of the e-mails: which stage's alarm it is, when two share an inbox.
      displayName: `auth0-crm-sync alarms (${Stack.of(this).stackName})`.slice(0, 100),
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));

    const requests = props.sync.metricInvocations({ period: FIVE_MINUTES });
    // A 5xx of the sync API: its line's internal_error or crm_unavailable, or the function
    // failing outright (a timeout, a crash: no line, API Gateway answers 5xx).
    const serverErrors = new MathExpression({
      expression: 'internal + unavailable + failed',
      usingMetrics: {
        internal: this.serviceMetric('Requests', { Outcome: 'internal_error' }, 'Sum'),
        unavailable: this.serviceMetric('Requests', { Outcome: 'crm_unavailable' }, 'Sum'),
        failed: props.sync.metricErrors({ period: FIVE_MINUTES }),
      },
      label: 'Sync API 5xx',
      period: FIVE_MINUTES,
    });
    this.alarm('Sync5xxRate', {
      metric: new MathExpression({
        expression: 'IF(requests > 20, 100 * errors / requests, 0)',
        usingMetrics: { errors: serverErrors, requests },
        label: 'Sync API 5xx rate (%)',
        period: FIVE_MINUTES,
      }),
      threshold: 5,
      description:
        'More than 5% of Sync API requests failed with a 5xx (crm_unavailable included) for 10 minutes.',
      evaluationPeriods: 2,
    });
    const crmFailures = this.serviceMetric('CrmFailures', { Operation: 'crm' }, 'Sum');
    this.alarm('CrmFailures', {
      metric: crmFailures,
      threshold: 10,
      description:
        'The CRM failed (timeout, 5xx, bad answer) 10+ times in 5 minutes: logins get stale data.',
      evaluationPeriods: 1,
    });
    // Every request's log line counts its outcome (shared/http/request-log.ts).
    const outcome = (code: string) => this.serviceMetric('Requests', { Outcome: code }, 'Sum');
    // A share, not a count: after a botched rotation every login is refused (and goes on without
    // CRM data, fail open, silently) whatever the traffic, while a count of 5 paged for every
    // scanner that found the URL. The floor of 10 requests keeps a quiet night from alarming on
    // two stray probes. The denominator is the sync function's invocations: its requests alone.
    this.alarm('InvalidSignatureRate', {
      metric: new MathExpression({
        expression: 'IF(requests >= 10, 100 * invalid / requests, 0)',
        usingMetrics: {
          invalid: this.serviceMetric(
            'Requests',
            { Outcome: 'invalid_signature' },
            'Sum',
            TEN_MINUTES,
          ),
          requests: props.sync.metricInvocations({ period: TEN_MINUTES }),
        },
        label: 'Sync API requests refused invalid_signature (%)',
        period: TEN_MINUTES,
      }),
      threshold: 20,
      description:
        '20%+ of Sync API requests were refused with invalid_signature over 10 minutes (at least 10 requests). Most likely the signing secret and the Action disagree after a rotation: every login then goes on WITHOUT CRM data (fail open) and nobody sees an error. Check the dashboard: if synced/cached logins stopped, compare the Action secret SYNC_SIGNING_SECRET with the current and previous values of the signing secret (ReadSigningSecretCommand output); put the value the Action holds back as "previous" (or "current") at once, then redo the rotation in its order (README: Rotating the signing secret). If logins still sync, it is a probe or replayed GET /v1/users signatures (single-use): the API access log shows the source ip; consider allowedSourceIps.',
      evaluationPeriods: 1,
    });
    this.alarm('CrmCircuitOpened', {
      metric: this.serviceMetric('CrmCircuitOpened', {}, 'Sum'),
      threshold: 1,
      description:
        'The CRM asked to be left alone (429/503 with Retry-After) or failed 5 times in a row: sync Lambda instances stopped calling it for a while, and logins get stale data or none.',
      evaluationPeriods: 1,
    });
    for (const [name, fn] of Object.entries(props.functions)) {
      this.alarm(`${name}Errors`, {
        metric: fn.metricErrors({ period: FIVE_MINUTES }),
        threshold: 1,
        description: `The ${name} Lambda reported errors.`,
        evaluationPeriods: 1,
      });
      this.alarm(`${name}Throttles`, {
        metric: fn.metricThrottles({ period: FIVE_MINUTES }),
        threshold: 1,
        description: `The ${name} Lambda was throttled.`,
        evaluationPeriods: 1,
      });
    }
    if (props.backfill) this.backfillAlarms(props.backfill);
    if (props.crmEvents) this.crmEventAlarms(props.crmEvents.resyncs);
    for (const [name, queue] of Object.entries(props.deadLetterQueues ?? {})) {
      this.alarm(`${name}Depth`, {
        metric: queue.metricApproximateNumberOfMessagesVisible({
          period: FIVE_MINUTES,
          statistic: 'Maximum',
        }),
        threshold: 1,
        description: `Messages reached the ${name} dead-letter queue: some users were not synced.`,
        evaluationPeriods: 1,
      });
    }

    const logins = outcome;
    const dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${dashboardSafe(Stack.of(this).stackName)}-crm-sync`,
    });
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Logins by outcome',
        // ambiguous_match: answered not_found, as the CRM holds duplicates for the key.
        left: ['synced', 'cached', 'not_found', 'ambiguous_match', 'stale'].map(logins),
        width: 12,
      }),
      new GraphWidget({
        title: 'Cache hit rate (%)',
        left: [
          new MathExpression({
            expression: '100 * cached / (cached + synced + notFound + ambiguous + stale)',
            usingMetrics: {
              cached: logins('cached'),
              synced: logins('synced'),
              notFound: logins('not_found'),
              ambiguous: logins('ambiguous_match'),
              stale: logins('stale'),
            },
            label: 'answered without asking the CRM',
            period: FIVE_MINUTES,
          }),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: 'CRM latency (ms) and failures',
        left: ['p50', 'p99'].map((statistic) =>
          this.serviceMetric('CrmLatency', { Outcome: 'synced' }, statistic),
        ),
        right: [crmFailures],
        width: 12,
      }),
      new GraphWidget({
        title: 'Backfill progress (users)',
        left: ['Checked', 'Changed', 'Unchanged', 'NotFound', 'Failed'].map((name) =>
          this.serviceMetric(`Backfill${name}`, {}, 'Sum'),
        ),
        right: [
          new MathExpression({
            expression: 'checked / PERIOD(checked)',
            usingMetrics: { checked: this.serviceMetric('BackfillChecked', {}, 'Sum') },
            label: 'users checked per second',
            period: FIVE_MINUTES,
          }),
        ],
        width: 12,
      }),
      new GraphWidget({
        title: 'Refused requests by code',
        left: [
          'invalid_signature',
          'signature_expired',
          'invalid_request',
          'invalid_phone_number',
          'throttled',
          'crm_unavailable',
          'internal_error',
        ].map(outcome),
        width: 12,
      }),
      ...(props.backfill ? [backfillRunsWidget(props.backfill)] : []),
      ...(props.crmEvents
        ? [
            new GraphWidget({
              title: 'CRM change events',
              left: [
                'CrmEventsAccepted',
                'CrmEventsDuplicate',
                'CrmEventsIgnored',
                'CrmEventUsersInvalidated',
                'CrmEventUsersQueued',
                'CrmEventKeysTruncated',
              ].map((name) => this.serviceMetric(name, { Outcome: 'events_handled' }, 'Sum')),
              width: 12,
            }),
          ]
        : []),
      new SingleValueWidget({
        title: 'Sync API requests and 5xx',
        metrics: [requests, serverErrors],
        width: 12,
      }),
    );
  }

  private backfillAlarms({ runs, users }: NonNullable<MonitoringProps['backfill']>) {
    const open =
      'Open the execution in the Step Functions console (ListRunningBackfillsCommand output lists runs; the console shows the failed state and its error).';
    this.alarm('BackfillRunFailed', {
      metric: runs.metricFailed({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: 1,
      description: `A backfill run failed: users who do not log in were not all checked today. ${open} MissingScopeError names the Management API scopes to grant the M2M application; ExportFailedError means Auth0's export job failed or was given up (Auth0 status, then start a run by hand: StartBackfillRunCommand); any other error is an orchestrator step that kept failing (its Lambda log). The next scheduled run starts from scratch either way; users already queued are still worked.`,
      evaluationPeriods: 1,
    });
    this.alarm('BackfillRunTimedOut', {
      metric: runs.metricTimedOut({ period: FIVE_MINUTES, statistic: 'Sum' }),
      threshold: 1,
      description: `A backfill run passed its 12 hours and was stopped: the export never completed (the run kept polling) or enqueueing stalled. ${open} Its last state says which. Users already queued are still worked; the next scheduled run starts from scratch.`,
      evaluationPeriods: 1,
    });
    // No alarm on ABORTED: only a person stops a run (StopBackfillRunCommand), who knows.
    this.alarm('BackfillQueueOldestMessageAge', {
      metric: users.metricApproximateAgeOfOldestMessage({
        period: FIVE_MINUTES,
        statistic: 'Maximum',
      }),
      threshold: BACKFILL_MESSAGE_AGE_ALARM.toSeconds(),
      description:
        'A user has waited over a day in the backfill queue: the workers are not keeping up with the daily run, or are paused. SQS deletes messages after 4 days, so those users would be skipped until the next run. Were the workers paused (ResumeBackfillWorkersCommand output)? Is the CRM or Auth0 refusing (the BackfillWorkerErrors alarm, the "failures by code" saved query)? Raise crmRatePerSecond/auth0WritesPerSecond if the limits allow.',
      evaluationPeriods: 1,
    });
  }

  /**
   * CRM change events that were not handled: the CRM sends them again (at-least-once), but an
   * operator must know when they keep failing or keep being refused, since the changes then
   * wait for logins on the next sync day and the next backfill.
   */
  private crmEventAlarms(resyncs: IQueue): void {
    this.alarm('CrmEventResyncsOldestMessageAge', {
      metric: resyncs.metricApproximateAgeOfOldestMessage({
        period: FIVE_MINUTES,
        statistic: 'Maximum',
      }),
      threshold: 3_600,
      description:
        "A user a CRM change event queued for a re-sync has waited an hour: the backfill worker is not taking the re-syncs queue (its event source disabled, the worker failing, Auth0 or the CRM refusing). Those users keep yesterday's claims in their profile until the sync day ends. Check the BackfillWorker errors and the re-syncs event source mapping.",
      evaluationPeriods: 1,
    });
    const events = (code: string) =>
      this.serviceMetric('CrmEventRequests', { Outcome: code }, 'Sum', TEN_MINUTES);
    this.alarm('CrmEventsFailed', {
      metric: events('internal_error'),
      threshold: 1,
      description:
        "POST /v1/crm-events failed (500) in the last 10 minutes: the events of that request were not all handled, and the CRM should send them again. If it keeps failing, the CrmEvents function's request line names the fault (DynamoDB, SQS, a secret); until fixed, changed contacts reach Auth0 only at the next sync day or backfill.",
      evaluationPeriods: 1,
    });
    this.alarm('CrmEventsRefusedSignature', {
      metric: new MathExpression({
        expression: 'invalid + expired',
        usingMetrics: {
          invalid: events('invalid_signature'),
          expired: events('signature_expired'),
        },
        label: 'CRM events refused for their signature',
        period: TEN_MINUTES,
      }),
      threshold: 5,
      description:
        "POST /v1/crm-events refused 5+ requests for their signature in 10 minutes: most likely the CRM webhook secret and the CRM disagree after a rotation (or the CRM's clock is off), and no change event is being handled. Compare the key the CRM signs with against ReadCrmWebhookSecretCommand (current, previous); if they agree, it is a probe: the API access log shows the source.",
      evaluationPeriods: 1,
    });
  }

  private serviceMetric(
    name: string,
    dimensions: Record<string, string>,
    statistic: string,
    period = FIVE_MINUTES,
  ) {
    return new Metric({
      namespace: metricsNamespace(Stack.of(this).stackName),
      metricName: name,
      dimensionsMap: dimensions,
      statistic,
      period,
    });
  }

  private alarm(
    id: string,
    props: {
      metric: Metric | MathExpression;
      threshold: number;
      description: string;
      evaluationPeriods: number;
    },
  ) {
    const alarm = new Alarm(this, id, {
      metric: props.metric,
      threshold: props.threshold,
      evaluationPeriods: props.evaluationPeriods,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: props.description,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }
}

/** How the runs ended (skipped runs count as succeeded) and how long users wait in the queue. */
function backfillRunsWidget({ runs, users }: NonNullable<MonitoringProps['backfill']>) {
  return new GraphWidget({
    title: 'Backfill runs, and the oldest queued user (s)',
    left: [
      runs.metricSucceeded({ period: FIVE_MINUTES, statistic: 'Sum' }),
      runs.metricFailed({ period: FIVE_MINUTES, statistic: 'Sum' }),
      runs.metricTimedOut({ period: FIVE_MINUTES, statistic: 'Sum' }),
      runs.metricAborted({ period: FIVE_MINUTES, statistic: 'Sum' }),
    ],
    right: [
      users.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }),
    ],
    width: 12,
  });
}

/** CloudWatch dashboard names allow letters, digits, `-` and `_`. */
function dashboardSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, '-');
}
