import type { BackfillCounts, EnqueueCounts } from '../domain/backfill.ts';
import { METRICS_NAMESPACE } from '../names.ts';

export type MetricValue = { value: number; unit: 'Count' | 'Milliseconds' | 'Count/Second' };

/**
 * CloudWatch Embedded Metric Format, carried by the request's own log line: CloudWatch Logs
 * turns it into metrics, so a metric costs no API call and no extra I/O on the login path.
 */
export function embeddedMetrics(
  dimensions: Record<string, string>,
  metrics: Record<string, MetricValue>,
): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        {
          // The deployed stack's own namespace (shared/names.ts metricsNamespace).
          Namespace: process.env.METRICS_NAMESPACE || METRICS_NAMESPACE,
          Dimensions: [Object.keys(dimensions)],
          Metrics: Object.entries(metrics).map(([Name, { unit }]) => ({ Name, Unit: unit })),
        },
      ],
    },
    ...dimensions,
    ...Object.fromEntries(Object.entries(metrics).map(([name, { value }]) => [name, value])),
  };
}

/** The backfill's per-user outcomes as metrics: the same names for a worker batch and a local run. */
export function outcomeMetrics(counts: BackfillCounts): Record<string, MetricValue> {
  return {
    BackfillChecked: { value: counts.checked, unit: 'Count' },
    BackfillChanged: { value: counts.changed, unit: 'Count' },
    BackfillUnchanged: { value: counts.unchanged, unit: 'Count' },
    BackfillNotFound: { value: counts.notFound, unit: 'Count' },
    BackfillSkipped: { value: counts.skipped, unit: 'Count' },
    BackfillFailed: { value: counts.failed, unit: 'Count' },
  };
}

/** What the orchestrator's enqueue passes counted, as metrics of the run's summary line. */
export function enqueueMetrics(totals: EnqueueCounts): Record<string, MetricValue> {
  return {
    BackfillExported: { value: totals.exported, unit: 'Count' },
    BackfillFreshInProfile: { value: totals.freshInProfile, unit: 'Count' },
    BackfillSettledToday: { value: totals.settledToday, unit: 'Count' },
    BackfillSkippedNoKey: { value: totals.skipped, unit: 'Count' },
    BackfillEnqueued: { value: totals.enqueued, unit: 'Count' },
    BackfillStampsUnread: { value: totals.stampsUnread, unit: 'Count' },
  };
}
