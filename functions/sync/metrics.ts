/** CloudWatch namespace of the service's metrics (the dashboard and alarms read them). */
export const METRICS_NAMESPACE = 'Auth0CrmSync';

/**
 * CloudWatch Embedded Metric Format, carried by the request's own log line: CloudWatch Logs
 * turns it into metrics, so a metric costs no API call and no extra I/O on the login path.
 */
export function embeddedMetrics(
  dimensions: Record<string, string>,
  metrics: Record<string, { value: number; unit: 'Count' | 'Milliseconds' | 'Count/Second' }>,
): Record<string, unknown> {
  return {
    _aws: {
      Timestamp: Date.now(),
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [Object.keys(dimensions)],
          Metrics: Object.entries(metrics).map(([Name, { unit }]) => ({ Name, Unit: unit })),
        },
      ],
    },
    ...dimensions,
    ...Object.fromEntries(Object.entries(metrics).map(([name, { value }]) => [name, value])),
  };
}
