import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
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
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '#shared/names.ts';

export interface MonitoringProps {
  readonly api: HttpApi;
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly deadLetterQueues?: Readonly<Record<string, IQueue>>;
  readonly alarmEmail?: string | undefined;
}

const FIVE_MINUTES = Duration.minutes(5);

/** Alarms to an optional e-mail, and one dashboard for logins, the CRM and the backfill. */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Alarms', {
      displayName: 'auth0-crm-sync alarms',
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));

    const requests = props.api.metricCount({ period: FIVE_MINUTES });
    const serverErrors = props.api.metricServerError({ period: FIVE_MINUTES });
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
    // Every request's log line counts its outcome (functions/sync/request-log.ts).
    const outcome = (code: string) => this.serviceMetric('Requests', { Outcome: code }, 'Sum');
    this.alarm('InvalidSignatures', {
      metric: outcome('invalid_signature'),
      threshold: 5,
      description:
        'Sync API requests were refused with invalid_signature 5+ times in 5 minutes: a signing secret rotation out of step with the Action (logins go on without CRM data), or someone probing the API.',
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
      dashboardName: `${scopeName(scope)}-crm-sync`,
    });
    dashboard.addWidgets(
      new GraphWidget({
        title: 'Logins by outcome',
        left: ['synced', 'cached', 'not_found', 'stale'].map(logins),
        width: 12,
      }),
      new GraphWidget({
        title: 'Cache hit rate (%)',
        left: [
          new MathExpression({
            expression: '100 * cached / (cached + synced + notFound + stale)',
            usingMetrics: {
              cached: logins('cached'),
              synced: logins('synced'),
              notFound: logins('not_found'),
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
      new SingleValueWidget({
        title: 'Sync API requests and 5xx',
        metrics: [requests, serverErrors],
        width: 12,
      }),
    );
  }

  private serviceMetric(name: string, dimensions: Record<string, string>, statistic: string) {
    return new Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: dimensions,
      statistic,
      period: FIVE_MINUTES,
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

function scopeName(scope: Construct): string {
  return scope.node.id.replace(/[^A-Za-z0-9_-]/g, '-');
}
